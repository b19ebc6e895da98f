// The SDP of a camera's DESCRIBE answer (RFC 4566), read only as far as the hub's RTSP reader needs:
// which video track to SETUP, at which URL, with which payload type, clock and parameter sets.
//
// A camera's SDP is untrusted input: its size is bounded before it is read, every number is checked
// for range, base64 is checked before it is decoded, and anything the reader cannot depacketize
// (H.264 interleaved mode, H.265 with DONL) is reported as `unsupportedReason` rather than guessed at.

export type SdpErrorCode =
  /** Larger than `maxBytes`. */
  | 'too-large'
  /** Not an SDP at all (no `v=0` first), or an `m=` line that cannot be read. */
  | 'malformed'
  /** More than MAX_MEDIA `m=` sections. */
  | 'too-many-media';

export class SdpError extends Error {
  override readonly name = 'SdpError';
  readonly code: SdpErrorCode;
  constructor(code: SdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

/** Largest SDP accepted by default: a camera's is about 1 KiB, parameter sets included. */
export const SDP_MAX_BYTES = 64 * 1024;
/** Cameras offer two or three streams; a hundred `m=` lines is an attack, not a camera. */
const MAX_MEDIA = 32;
/** Parameter sets per list (sprop-parameter-sets, sprop-sps, …): a handful in practice. */
const MAX_PARAMETER_SETS = 16;

export interface SdpRtpMap {
  /** Lowercased encoding name: 'h264', 'h265', 'pcmu', 'mpeg4-generic', … */
  encoding: string;
  clockRate: number;
  channels?: number;
}

export interface SdpMedia {
  /** 'video', 'audio', 'application', … */
  type: string;
  /** The transport protocol of the m= line, e.g. 'RTP/AVP'. */
  protocol: string;
  /** Payload types in the order offered. */
  formats: number[];
  /** The raw `a=control` value, unresolved. */
  control?: string;
  rtpmap: Map<number, SdpRtpMap>;
  /** `a=fmtp` parameters per payload type; keys lowercased, values as written. */
  fmtp: Map<number, Map<string, string>>;
  framerate?: number;
}

export interface SdpSession {
  /** Session-level `a=control`, unresolved. */
  control?: string;
  media: SdpMedia[];
}

export interface SdpVideo {
  /** Lowercased: 'h264', 'h265', 'jpeg', 'mp4v-es', … */
  codec: string;
  payloadType: number;
  clockRate: number;
  /** Absolute URL to SETUP this track at (no userinfo unless the camera wrote one). */
  control: string;
  /** H.264: SPS and PPS from sprop-parameter-sets; H.265: VPS, SPS, PPS. Without start codes. */
  parameterSets: Uint8Array[];
  framerate?: number;
  /** The payload type's fmtp parameters (keys lowercased), e.g. 'profile-level-id'. */
  fmtp: Record<string, string>;
  /** Set when the track is H.264/H.265 but packetized in a way the reader does not take apart. */
  unsupportedReason?: string;
}

export interface SdpAudio {
  codec: string;
  payloadType: number;
  clockRate?: number;
  control: string;
}

export interface SdpSummary {
  /** Absolute URL for aggregate requests (PLAY, TEARDOWN). */
  control: string;
  video?: SdpVideo;
  audio?: SdpAudio;
}

/** Static RTP payload types (RFC 3551) a camera may use without an rtpmap. */
const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, SdpRtpMap> = new Map([
  [0, { encoding: 'pcmu', clockRate: 8000, channels: 1 }],
  [8, { encoding: 'pcma', clockRate: 8000, channels: 1 }],
  [14, { encoding: 'mpa', clockRate: 90000 }],
  [26, { encoding: 'jpeg', clockRate: 90000 }],
  [32, { encoding: 'mpv', clockRate: 90000 }],
]);

/** Parse an SDP (text or bytes). Throws SdpError; unknown lines are skipped, as RFC 4566 asks. */
export function parseSdp(sdp: string | Uint8Array, options: { maxBytes?: number } = {}): SdpSession {
  const maxBytes = options.maxBytes ?? SDP_MAX_BYTES;
  const size = typeof sdp === 'string' ? Buffer.byteLength(sdp) : sdp.byteLength;
  if (size > maxBytes) throw new SdpError('too-large', `SDP of ${size} bytes, more than ${maxBytes}`);
  const text = typeof sdp === 'string' ? sdp : Buffer.from(sdp.buffer, sdp.byteOffset, sdp.byteLength).toString('utf8');
  const lines = text.split(/\r?\n/);
  // Some cameras send a blank line or a BOM first; "v=" must still come before anything else.
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0 || lines[first]!.replace(/^\uFEFF/, '').trim() !== 'v=0') {
    throw new SdpError('malformed', 'SDP does not start with v=0');
  }
  const session: SdpSession = { media: [] };
  let media: SdpMedia | undefined;
  for (let i = first + 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const value = line.slice(2);
    if (line[0] === 'm') {
      if (session.media.length >= MAX_MEDIA) throw new SdpError('too-many-media', `more than ${MAX_MEDIA} m= lines`);
      media = parseMediaLine(value);
      session.media.push(media);
      continue;
    }
    if (line[0] !== 'a') continue;
    const colon = value.indexOf(':');
    const name = (colon < 0 ? value : value.slice(0, colon)).toLowerCase();
    const arg = colon < 0 ? '' : value.slice(colon + 1).trim();
    if (name === 'control') {
      if (media) media.control = arg;
      else session.control = arg;
    } else if (media === undefined) {
      continue;
    } else if (name === 'rtpmap') {
      const m = /^(\d{1,3})\s+([^/\s]+)\/(\d{1,9})(?:\/(\d{1,3}))?/.exec(arg);
      const pt = m ? Number(m[1]) : NaN;
      if (m && pt <= 127 && Number(m[3]) > 0) {
        const entry: SdpRtpMap = { encoding: m[2]!.toLowerCase(), clockRate: Number(m[3]) };
        if (m[4] !== undefined) entry.channels = Number(m[4]);
        media.rtpmap.set(pt, entry);
      }
    } else if (name === 'fmtp') {
      const m = /^(\d{1,3})\s+(.*)$/.exec(arg);
      if (m && Number(m[1]) <= 127) media.fmtp.set(Number(m[1]), parseFmtp(m[2]!));
    } else if (name === 'framerate' || name === 'x-framerate') {
      const fps = Number(arg);
      if (Number.isFinite(fps) && fps > 0 && fps <= 1000) media.framerate = fps;
    }
  }
  return session;
}

function parseMediaLine(value: string): SdpMedia {
  // m=<media> <port>[/<count>] <proto> <fmt> ...
  const words = value.trim().split(/\s+/);
  if (words.length < 3 || !/^\d+(\/\d+)?$/.test(words[1]!)) throw new SdpError('malformed', `cannot read m=${value.slice(0, 80)}`);
  const formats: number[] = [];
  for (const w of words.slice(3)) {
    if (/^\d{1,3}$/.test(w) && Number(w) <= 127) formats.push(Number(w));
  }
  return { type: words[0]!.toLowerCase(), protocol: words[2]!, formats, rtpmap: new Map(), fmtp: new Map() };
}

function parseFmtp(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (key) out.set(key, eq < 0 ? '' : part.slice(eq + 1).trim());
  }
  return out;
}

/** Where the control URLs of a DESCRIBE answer are relative to (RFC 2326 C.1.1). */
export interface SdpBase {
  /** The DESCRIBE request's URL (without userinfo). */
  requestUrl: string;
  contentBase?: string;
  contentLocation?: string;
}

/** The URL the answer's control URLs are relative to: Content-Base, Content-Location, the request. */
export function baseUrl(base: SdpBase): string {
  for (const candidate of [base.contentBase, base.contentLocation]) {
    const c = candidate?.trim();
    if (c && isAbsoluteUrl(c)) return c;
  }
  return base.requestUrl;
}

function isAbsoluteUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/**
 * A control attribute against the base URL: absent or '*' is the base itself, an absolute URL is
 * kept, anything else is appended to the base with one '/'. The append, not RFC 1808's resolution,
 * because that is what ffmpeg and live555 do and so what cameras are tested with: strict resolution
 * of "trackID=1" against a base without a trailing slash (a camera that sends no Content-Base)
 * would replace the last path segment and SETUP a URL the camera does not know.
 */
export function resolveControl(control: string | undefined, base: string): string {
  const c = control?.trim();
  if (!c || c === '*') return base;
  if (isAbsoluteUrl(c)) return c;
  if (base.endsWith('/') || c.startsWith('/')) return base.endsWith('/') && c.startsWith('/') ? base + c.slice(1) : base + c;
  return `${base}/${c}`;
}

/** The tracks the hub's reader cares about: the first usable video (H.264/H.265 preferred), the first audio. */
export function summarizeSdp(session: SdpSession, base: SdpBase): SdpSummary {
  const root = baseUrl(base);
  const summary: SdpSummary = { control: resolveControl(session.control, root) };
  const isRtp = (m: SdpMedia): boolean => /^RTP\/S?AVPF?(\/|$)/i.test(m.protocol) && m.formats.length > 0;
  const videos = session.media.filter((m) => m.type === 'video' && isRtp(m));
  let chosen: { media: SdpMedia; pt: number; map: SdpRtpMap | undefined } | undefined;
  for (const media of videos) {
    for (const pt of media.formats) {
      const map = rtpMapOf(media, pt);
      if (map && (map.encoding === 'h264' || map.encoding === 'h265')) {
        chosen = { media, pt, map };
        break;
      }
    }
    if (chosen) break;
  }
  if (!chosen && videos[0]) chosen = { media: videos[0], pt: videos[0].formats[0]!, map: rtpMapOf(videos[0], videos[0].formats[0]!) };
  if (chosen) summary.video = videoOf(chosen.media, chosen.pt, chosen.map, root);
  const audio = session.media.find((m) => m.type === 'audio' && isRtp(m));
  if (audio) {
    const pt = audio.formats[0]!;
    const map = rtpMapOf(audio, pt);
    summary.audio = { codec: map?.encoding ?? `pt${pt}`, payloadType: pt, control: resolveControl(audio.control, root) };
    if (map) summary.audio.clockRate = map.clockRate;
  }
  return summary;
}

/** parseSdp + summarizeSdp. */
export function describeSdp(sdp: string | Uint8Array, base: SdpBase, options: { maxBytes?: number } = {}): SdpSummary {
  return summarizeSdp(parseSdp(sdp, options), base);
}

function rtpMapOf(media: SdpMedia, pt: number): SdpRtpMap | undefined {
  return media.rtpmap.get(pt) ?? (pt < 96 ? STATIC_PAYLOAD_TYPES.get(pt) : undefined);
}

function videoOf(media: SdpMedia, pt: number, map: SdpRtpMap | undefined, root: string): SdpVideo {
  const fmtp = media.fmtp.get(pt) ?? new Map<string, string>();
  const video: SdpVideo = {
    codec: map?.encoding ?? `pt${pt}`,
    payloadType: pt,
    clockRate: map?.clockRate ?? 90000,
    control: resolveControl(media.control, root),
    parameterSets: [],
    fmtp: Object.fromEntries(fmtp),
  };
  if (media.framerate !== undefined) video.framerate = media.framerate;
  const unsupported: string[] = [];
  if (video.codec === 'h264') {
    video.parameterSets = base64List(fmtp.get('sprop-parameter-sets'));
    const mode = fmtp.get('packetization-mode') ?? '0';
    // Mode 2 (interleaved) reorders NAL units by DON across packets: STAP-B, MTAP, FU-B.
    if (mode !== '0' && mode !== '1') unsupported.push(`H.264 packetization-mode=${mode.slice(0, 16)} (interleaved)`);
  } else if (video.codec === 'h265') {
    for (const key of ['sprop-vps', 'sprop-sps', 'sprop-pps']) video.parameterSets.push(...base64List(fmtp.get(key)));
    // DONL fields in every packet and reordering across them: RFC 7798 §4.4.
    for (const key of ['sprop-max-don-diff', 'sprop-depack-buf-nalus']) {
      const v = fmtp.get(key);
      if (v !== undefined && v !== '0') unsupported.push(`H.265 ${key}=${v.slice(0, 16)} (DONL in use)`);
    }
  }
  if (unsupported.length > 0) video.unsupportedReason = unsupported.join(', ');
  if (video.clockRate !== 90000 && (video.codec === 'h264' || video.codec === 'h265')) {
    video.unsupportedReason = [video.unsupportedReason, `clock rate ${video.clockRate}, not 90000`].filter(Boolean).join(', ');
  }
  return video;
}

/** A comma-separated list of base64 parameter sets; entries that are not clean base64 are skipped. */
function base64List(value: string | undefined): Uint8Array[] {
  if (!value) return [];
  const out: Uint8Array[] = [];
  for (const item of value.split(',')) {
    const s = item.trim();
    // Buffer's decoder skips what it does not understand; a camera's typo must not become bytes.
    if (!s || !/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 === 1) continue;
    const bytes = Buffer.from(s, 'base64');
    if (bytes.length > 0) out.push(new Uint8Array(bytes));
    if (out.length >= MAX_PARAMETER_SETS) break;
  }
  return out;
}
