// Cuts an MPEG transport stream (ffmpeg's `-f mpegts` output, as node-rtsp-stream's Mpeg1Muxer
// makes it) into what the hub seals: an "init segment" and fragments, like the fragmented MP4 of
// the other streams, so the same sealing, GOP cache and ordering apply (PROTOCOL §9.7).
//
//  * A transport stream is 188-byte packets, each starting with the sync byte 0x47. Fragments hold
//    whole packets only, so a decoder can be fed them one after the other whatever their size.
//  * The init segment is the packets before the first PES packet: the PAT and PMT (and SDT) that
//    ffmpeg writes first. A TS decoder needs none of them (JSMpeg reads PES stream ids), but the
//    phone's fragment order wants an init before any fragment, and it says the stream restarted.
//  * A fragment starts at a video PES whose picture data begins with an MPEG-1 sequence header
//    (00 00 01 B3): ffmpeg's mpeg1video writes one before every intra frame, so a decoder can start
//    there (`keyframe`); else a fragment is closed at the first video PES that begins at least
//    `fragmentMs` after the fragment did. Packets before the first keyframe are dropped.
// Every length is bounded: a packet that does not start with 0x47 is an error (ffmpeg's own output
// never loses sync), and a fragment over MAX_TS_FRAGMENT_BYTES is cut anyway.

export const TS_PACKET_BYTES = 188;
const SYNC = 0x47;
/** A fragment this long is closed whatever comes next (a keyframe larger than this spans two). */
export const MAX_TS_FRAGMENT_BYTES = 2 * 1024 * 1024;
/** PSI before the first PES packet longer than this is not ffmpeg's output. */
const MAX_INIT_BYTES = 64 * TS_PACKET_BYTES;

export class MpegTsError extends Error {
  override readonly name = 'MpegTsError';
  constructor(readonly code: 'lost-sync' | 'init-too-long', message: string) {
    super(`${code}: ${message}`);
  }
}

export interface TsSegment {
  type: 'init' | 'fragment';
  data: Uint8Array;
  /** A fragment that starts with a sequence header and an intra frame: a decoder may start here. */
  keyframe: boolean;
}

/** The PES a packet starts (its stream id and where its header is), if it starts one. */
function pesStart(p: Uint8Array): { streamId: number; payload: number } | undefined {
  if ((p[1]! & 0x40) === 0) return undefined; // payload_unit_start_indicator
  const afc = (p[3]! >> 4) & 3;
  if ((afc & 1) === 0) return undefined; // no payload
  const at = 4 + ((afc & 2) !== 0 ? 1 + p[4]! : 0);
  if (at + 9 > TS_PACKET_BYTES) return undefined;
  if (p[at] !== 0 || p[at + 1] !== 0 || p[at + 2] !== 1) return undefined; // PSI, not PES
  return { streamId: p[at + 3]!, payload: at };
}

/** Whether a video PES packet's elementary stream starts with an MPEG-1 sequence header. */
function startsWithSequenceHeader(p: Uint8Array, pes: number): boolean {
  const es = pes + 9 + p[pes + 8]!;
  return es + 4 <= TS_PACKET_BYTES && p[es] === 0 && p[es + 1] === 0 && p[es + 2] === 1 && p[es + 3] === 0xb3;
}

const isVideo = (streamId: number) => streamId >= 0xe0 && streamId <= 0xef;

export class MpegTsCutter {
  #rest = new Uint8Array(0);
  #init: Uint8Array[] | undefined = [];
  #initBytes = 0;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #keyframe = false;
  #startedAt = 0;
  /** Since the first keyframe. */
  #started = false;

  constructor(
    private readonly fragmentMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes the next bytes of the stream; returns the segments they completed. */
  push(chunk: Uint8Array): TsSegment[] {
    const out: TsSegment[] = [];
    let buf = chunk;
    if (this.#rest.length > 0) {
      buf = new Uint8Array(this.#rest.length + chunk.length);
      buf.set(this.#rest);
      buf.set(chunk, this.#rest.length);
    }
    let at = 0;
    for (; at + TS_PACKET_BYTES <= buf.length; at += TS_PACKET_BYTES) {
      const p = buf.subarray(at, at + TS_PACKET_BYTES);
      if (p[0] !== SYNC) throw new MpegTsError('lost-sync', `byte ${at} of a chunk is 0x${p[0]!.toString(16)}, not 0x47`);
      this.#packet(p, out);
    }
    this.#rest = buf.slice(at);
    return out;
  }

  #packet(p: Uint8Array, out: TsSegment[]): void {
    const pes = pesStart(p);
    if (this.#init !== undefined) {
      if (pes === undefined) {
        this.#initBytes += p.length;
        if (this.#initBytes > MAX_INIT_BYTES) throw new MpegTsError('init-too-long', `no PES packet in the first ${MAX_INIT_BYTES} bytes`);
        this.#init.push(p.slice());
        return;
      }
      out.push({ type: 'init', data: join(this.#init, this.#initBytes), keyframe: false });
      this.#init = undefined;
    }
    if (pes !== undefined && isVideo(pes.streamId)) {
      const key = startsWithSequenceHeader(p, pes.payload);
      const now = this.now();
      if (key || (this.#started && this.#bytes > 0 && now - this.#startedAt >= this.fragmentMs)) {
        this.#flush(out);
        this.#begin(key, now);
      }
    }
    if (!this.#started) return; // nothing before the first keyframe
    if (this.#bytes + p.length > MAX_TS_FRAGMENT_BYTES) {
      this.#flush(out);
      this.#begin(false, this.now());
    }
    this.#parts.push(p.slice());
    this.#bytes += p.length;
  }

  #begin(keyframe: boolean, now: number): void {
    this.#started = true;
    this.#keyframe = keyframe;
    this.#startedAt = now;
  }

  #flush(out: TsSegment[]): void {
    if (this.#bytes === 0) return;
    out.push({ type: 'fragment', data: join(this.#parts, this.#bytes), keyframe: this.#keyframe });
    this.#parts = [];
    this.#bytes = 0;
    this.#keyframe = false;
  }
}

function join(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
