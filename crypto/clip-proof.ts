// The proof beside an exported clip (PROTOCOL §15.4): that an MP4 a phone wrote from recorded
// segments holds exactly what the hub recorded, from which hub and camera, and when. The phone
// builds it (phone/core/clip-file.ts); `vigil verify-export` checks it with nothing but the file,
// the proof and this module: no data directory, no key but the hub's public signing key, which the
// proof carries and whose hash must be the hub id it names.
//
// Each segment's hub signature (crypto/recording.ts proofSigned) covers its camera, id, start, end,
// number of chunks and the head of a hash chain over every chunk's time, kind and plaintext. The
// proof says where each chunk lies in the MP4 ([offset, length]); the verifier reads those bytes,
// puts the decode times back as the hub recorded them (the phone moved each segment's by one
// constant per track so that the file starts at 0: `decodeShift`), recomputes the chain and checks
// the signature. The chunks must tile the file in the proof's order, from its first byte to its
// last, each media chunk once (a segment's init chunk may point at an identical init written
// earlier): nothing can be added, dropped, moved or repeated without the check failing.
import { equalBytes, fromHex, toHex } from './bytes.ts';
import { CryptoError } from './errors.ts';
import { ID_BYTES, SIGN_PUBLIC_BYTES, hubIdFor } from './identity.ts';
import { chainOver, proofSigned, type SegmentProof } from './recording.ts';
import { Fmp4TimeError, shiftDecodeTimes } from '../lib/fmp4-time.ts';

export const CLIP_PROOF_FORMAT = 'vigil-clip-proof/1';
/** Bounds on what a proof may ask the verifier to do (a proof is untrusted input). */
export const MAX_CLIP_SEGMENTS = 100_000;
export const MAX_CLIP_CHUNKS_PER_SEGMENT = 100_000;
export const MAX_CLIP_PROOF_BYTES = 64 * 1024 * 1024;
const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;
const MAX_TRACK_ID = 2 ** 32 - 1;
/** A decode-time shift beyond what a 64-bit tfdt could ever need is refused (and stays exact in a double). */
const MAX_SHIFT = Number.MAX_SAFE_INTEGER;

/** One chunk of a segment: what the hub chained (kind, time) and where the phone put its plaintext. */
export interface ClipChunk {
  readonly kind: 'init' | 'media';
  /** Unix ms, as the hub chained it. */
  readonly time: number;
  /** [offset, length] in the MP4. */
  readonly at: readonly [number, number];
}

/** One segment: the signed fields of its SegmentProof (hex for bytes, times Unix ms), and its chunks. */
export interface ClipSegment {
  /** u64, decimal. */
  readonly segmentId: string;
  /** Informative: covered by headerHash only, which needs the segment's header to recompute. */
  readonly epoch: number;
  readonly start: number;
  readonly end: number;
  readonly headerHash: string;
  /** Chunks before the final one: inFile.length. */
  readonly chunks: number;
  readonly chainHead: string;
  readonly signature: string;
  /** Track id → ticks of its timescale subtracted from every media chunk's decode times in the file. */
  readonly decodeShift: Readonly<Record<string, number>>;
  readonly inFile: readonly ClipChunk[];
}

export interface ClipProof {
  readonly format: typeof CLIP_PROOF_FORMAT;
  readonly hubId: string;
  /** Ed25519; hubId = hubIdFor(hubSigningKey). */
  readonly hubSigningKey: string;
  readonly cameraId: string;
  /** What no signature covers: for people, and never trusted. */
  readonly unsigned: { readonly cameraName?: string };
  readonly segments: readonly ClipSegment[];
}

/** The entry for one segment, from the proof its final chunk carried (checked when it was opened). */
export function clipSegment(proof: SegmentProof, inFile: readonly ClipChunk[], decodeShift: Readonly<Record<string, number>>): ClipSegment {
  if (inFile.length !== proof.chunks) throw new RangeError(`clipSegment(segment=${proof.header.segmentId}): ${inFile.length} chunks placed, the proof has ${proof.chunks}`);
  return {
    segmentId: proof.header.segmentId.toString(),
    epoch: proof.header.epoch,
    start: proof.header.start,
    end: proof.end,
    headerHash: toHex(proof.headerHash),
    chunks: proof.chunks,
    chainHead: toHex(proof.chainHead),
    signature: toHex(proof.signature),
    decodeShift: Object.fromEntries(Object.entries(decodeShift).filter(([, ticks]) => ticks !== 0)),
    inFile: inFile.map((c) => ({ kind: c.kind, time: c.time, at: [c.at[0], c.at[1]] as const })),
  };
}

export function clipProof(hub: { hubId: Uint8Array; signingKey: Uint8Array }, cameraId: Uint8Array, cameraName: string | undefined, segments: readonly ClipSegment[]): ClipProof {
  return {
    format: CLIP_PROOF_FORMAT,
    hubId: toHex(hub.hubId),
    hubSigningKey: toHex(hub.signingKey),
    cameraId: toHex(cameraId),
    unsigned: cameraName !== undefined ? { cameraName } : {},
    segments,
  };
}

export function encodeClipProof(p: ClipProof): string {
  return `${JSON.stringify(p, null, 1)}\n`;
}

/**
 * A media chunk's plaintext as the hub recorded it, from its bytes in the file: each track's
 * decode times moved back by the segment's shift. Only tfdt fields change, found by the boxes'
 * own structure, which the shift does not touch: so exactly one file content restores to the
 * recorded plaintext. Throws Fmp4TimeError if the boxes do not parse.
 */
export function restoreDecodeTimes(inFile: Uint8Array, decodeShift: Readonly<Record<string, number>>): Uint8Array {
  const out = Uint8Array.from(inFile);
  if (Object.keys(decodeShift).length > 0) shiftDecodeTimes(out, (id) => -(decodeShift[String(id)] ?? 0));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading a proof: every field checked, as untrusted input.

function bad(detail: string): CryptoError {
  return new CryptoError('malformed', 'readClipProof', detail);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${what} is not an integer in [${min}, ${max}]`);
  return v;
}

function hex(v: unknown, bytes: number, what: string): Uint8Array {
  if (typeof v !== 'string' || v.length !== 2 * bytes || !/^[0-9a-f]*$/.test(v)) throw bad(`${what} is not ${bytes} bytes of lowercase hex`);
  return fromHex(v);
}

interface ReadSegment {
  readonly proof: SegmentProof;
  readonly decodeShift: Readonly<Record<string, number>>;
  readonly inFile: readonly ClipChunk[];
}

interface ReadProof {
  readonly hubId: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly cameraId: Uint8Array;
  readonly cameraName?: string;
  readonly segments: readonly ReadSegment[];
}

/** Parses a proof's JSON with every length, range and type checked; throws CryptoError 'malformed'. */
export function readClipProof(text: string): ReadProof {
  if (text.length > MAX_CLIP_PROOF_BYTES) throw bad('larger than a proof may be');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const p = obj(raw, 'the proof');
  if (p.format !== CLIP_PROOF_FORMAT) throw new CryptoError('unsupported', 'readClipProof', `not a ${CLIP_PROOF_FORMAT} proof`);
  const hubId = hex(p.hubId, ID_BYTES, 'hubId');
  const signingKey = hex(p.hubSigningKey, SIGN_PUBLIC_BYTES, 'hubSigningKey');
  const cameraId = hex(p.cameraId, ID_BYTES, 'cameraId');
  const unsigned = p.unsigned === undefined ? {} : obj(p.unsigned, 'unsigned');
  const cameraName = typeof unsigned.cameraName === 'string' ? unsigned.cameraName.slice(0, 200) : undefined;
  if (!Array.isArray(p.segments) || p.segments.length === 0 || p.segments.length > MAX_CLIP_SEGMENTS) throw bad(`segments must be 1 to ${MAX_CLIP_SEGMENTS}`);
  const segments = p.segments.map((v, i): ReadSegment => {
    const s = obj(v, `segment ${i}`);
    if (typeof s.segmentId !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(s.segmentId) || BigInt(s.segmentId) >= 2n ** 64n) throw bad(`segment ${i}: segmentId is not a u64`);
    const chunks = int(s.chunks, `segment ${i}: chunks`, 0, MAX_CLIP_CHUNKS_PER_SEGMENT);
    if (!Array.isArray(s.inFile) || s.inFile.length !== chunks) throw bad(`segment ${i}: inFile must list its ${chunks} chunks`);
    const inFile = s.inFile.map((cv, k): ClipChunk => {
      const c = obj(cv, `segment ${i} chunk ${k}`);
      if (c.kind !== 'init' && c.kind !== 'media') throw bad(`segment ${i} chunk ${k}: kind is init or media`);
      if (!Array.isArray(c.at) || c.at.length !== 2) throw bad(`segment ${i} chunk ${k}: at is [offset, length]`);
      return { kind: c.kind, time: int(c.time, `segment ${i} chunk ${k}: time`), at: [int(c.at[0], 'offset'), int(c.at[1], 'length', 1)] };
    });
    const shift = obj(s.decodeShift ?? {}, `segment ${i}: decodeShift`);
    const decodeShift: Record<string, number> = {};
    for (const [id, ticks] of Object.entries(shift)) {
      if (!/^(0|[1-9][0-9]{0,9})$/.test(id) || Number(id) > MAX_TRACK_ID) throw bad(`segment ${i}: decodeShift names a track id that is not a u32`);
      decodeShift[id] = int(ticks, `segment ${i}: decodeShift`, -MAX_SHIFT, MAX_SHIFT);
    }
    const proof: SegmentProof = {
      header: { hubId, cameraId, epoch: int(s.epoch, `segment ${i}: epoch`, 0, 2 ** 32 - 1), segmentId: BigInt(s.segmentId), start: int(s.start, `segment ${i}: start`) },
      headerHash: hex(s.headerHash, HASH_BYTES, `segment ${i}: headerHash`),
      end: int(s.end, `segment ${i}: end`),
      chunks,
      chainHead: hex(s.chainHead, HASH_BYTES, `segment ${i}: chainHead`),
      signature: hex(s.signature, SIGNATURE_BYTES, `segment ${i}: signature`),
    };
    return { proof, decodeShift, inFile };
  });
  return { hubId, signingKey, cameraId, ...(cameraName !== undefined ? { cameraName } : {}), segments };
}

// ---------------------------------------------------------------------------------------------
// Verifying a clip

/** What is wrong, for people: which segment (by index and its signed start time) and how. */
export interface ClipProblem {
  /** Index in the proof's segments; undefined for the file or the proof as a whole. */
  readonly segment?: number;
  readonly start?: number;
  readonly what: string;
}

export interface ClipVerdict {
  readonly ok: boolean;
  readonly problems: readonly ClipProblem[];
  readonly hubId: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly cameraId: Uint8Array;
  /** Unsigned: as the phone named the camera. */
  readonly cameraName?: string;
  /** The first segment's signed start and the last one's signed end, Unix ms. */
  readonly start: number;
  readonly end: number;
  readonly segments: number;
}

/**
 * Checks that `mp4` is exactly what the proof's segments signed (see the module comment). Throws
 * CryptoError for a proof that does not parse; otherwise lists every problem found (none: ok).
 */
export function verifyClip(mp4: Uint8Array, proofText: string): ClipVerdict {
  const p = readClipProof(proofText);
  const problems: ClipProblem[] = [];
  const first = p.segments[0]!.proof;
  const last = p.segments[p.segments.length - 1]!.proof;
  const verdict = (): ClipVerdict => ({
    ok: problems.length === 0, problems, hubId: p.hubId, signingKey: p.signingKey, cameraId: p.cameraId,
    ...(p.cameraName !== undefined ? { cameraName: p.cameraName } : {}), start: first.header.start, end: last.end, segments: p.segments.length,
  });
  if (!equalBytes(hubIdFor(p.signingKey), p.hubId)) {
    problems.push({ what: 'the hub signing key in the proof is not the key of the hub id it names' });
    return verdict();
  }
  // Layout: the chunks tile the file in the proof's order (an init may be one written before).
  let next = 0;
  const inits = new Set<string>();
  const ids = new Set<bigint>();
  let layoutOk = true;
  p.segments.forEach((s, i) => {
    const where = { segment: i, start: s.proof.header.start };
    if (ids.has(s.proof.header.segmentId)) problems.push({ ...where, what: 'the same segment is in the clip twice' });
    ids.add(s.proof.header.segmentId);
    if (i > 0 && s.proof.header.start <= p.segments[i - 1]!.proof.header.start) problems.push({ ...where, what: 'segments are out of order in time' });
    s.inFile.forEach((c, k) => {
      const [offset, length] = c.at;
      const key = `${offset},${length}`;
      if (offset === next) {
        next = offset + length;
        if (c.kind === 'init') inits.add(key);
      } else if (!(c.kind === 'init' && inits.has(key))) {
        if (layoutOk) problems.push({ ...where, what: `chunk ${k} is not where the file's order puts it (bytes moved, added or removed)` });
        layoutOk = false;
      }
    });
  });
  if (layoutOk && next > mp4.length) problems.push({ what: `the file is ${mp4.length} bytes, the proof covers ${next}: it was cut` });
  else if (layoutOk && next < mp4.length) problems.push({ what: `${mp4.length - next} bytes at the end of the file are not in the proof (added)` });
  // Each segment: its signature, then its chain over the file's bytes.
  p.segments.forEach((s, i) => {
    const where = { segment: i, start: s.proof.header.start };
    if (!proofSigned(s.proof, p.signingKey)) {
      problems.push({ ...where, what: 'the hub\'s signature does not check: its camera, times, chunk count or chain were edited' });
      return;
    }
    if (s.inFile.some((c) => c.at[0] + c.at[1] > mp4.length)) {
      problems.push({ ...where, what: 'its chunks reach past the end of the file (cut)' });
      return;
    }
    let chunks;
    try {
      chunks = s.inFile.map((c) => {
        const bytes = mp4.subarray(c.at[0], c.at[0] + c.at[1]);
        return { time: c.time, kind: c.kind, payload: c.kind === 'media' ? restoreDecodeTimes(bytes, s.decodeShift) : bytes };
      });
    } catch (e) {
      if (!(e instanceof Fmp4TimeError)) throw e;
      problems.push({ ...where, what: 'a media chunk\'s boxes do not parse (altered)' });
      return;
    }
    if (!equalBytes(chainOver(s.proof.header, chunks), s.proof.chainHead)) {
      problems.push({ ...where, what: 'its video or chunk times differ from what the hub recorded (altered)' });
    }
  });
  return verdict();
}
