// Recordings, on the phone (PROTOCOL §15): the keys that open them, the list of what a camera
// recorded, and its segments fetched and opened. The hub stores only ciphertext it cannot read; a
// segment opens with its recording epoch's seed, which the hub sealed to this phone alone.
//
// Epoch seeds are kept in memory only, for as long as this object lives, and wiped by close().
// The phone needs no copy of its own: the hub keeps each seed sealed to this phone (sealEpochKey,
// X-Wing), a copy only this phone's device key opens, and hands it out again with `recording-keys`
// (recording is of no use without the hub, which holds the segments). A seed written to the
// profile would make the profile file a key to every recording, for as long as the file exists,
// even after the phone is removed; as it is, the device key in the profile opens only what the
// hub still hands it. (The app and vigil-phone alike; a phone that must play with the hub
// offline would need them on disk, and none does.)
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import type { ClipSegment } from '../../crypto/clip-proof.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { type ArgsOf, type RecordingKey, type RecordingsResult, type ResultOf, type SegmentInfo } from '../../crypto/phone-commands.ts';
import {
  SEGMENT_HEADER_BYTES, decodeRecordingEpoch, openEpochKey, openSegment, readSegmentHeader, type OpenedSegment, type RecordingCryptoOptions, type RecordingEpoch,
} from '../../crypto/recording.ts';
import type { Secret } from '../../crypto/secret.ts';
import { ClipAssembler } from './clip-file.ts';
import { CommandError } from './link/api.ts';
import type { PhoneProfile } from './profile.ts';

/** What recordings need of the hub link (HubLink has both). */
export interface RecordingsLink {
  command(action: 'recording-keys', args: ArgsOf<'recording-keys'>): Promise<ResultOf<'recording-keys'>>;
  command(action: 'recordings', args: ArgsOf<'recordings'>): Promise<ResultOf<'recordings'>>;
  segment(cameraId: string, id: string): Promise<Uint8Array>;
}

/**
 * Who opens the recordings: a phone's profile, or any device holding recording keys the same way
 * (the desktop app's viewer in the hub's own process, main/keys/desktop-playback.ts).
 */
export type RecordingsHolder = Pick<PhoneProfile, 'hub' | 'device'>;

/** Epochs whose seeds this phone holds, opened from what the hub sent; wiped on close. */
export class RecordingKeyring {
  readonly #seeds = new Map<number, { epoch: RecordingEpoch; seed: Secret }>();

  constructor(private readonly profile: RecordingsHolder) {}

  /**
   * Takes the hub's answer to `recording-keys`: each epoch must carry the hub's signature, and each
   * seed must open with this phone's device key and name the same epoch. Returns why any was not
   * taken (never naming a key).
   */
  take(keys: readonly RecordingKey[]): { taken: number; refused: string[]; newestNamed?: number } {
    let taken = 0;
    let newestNamed: number | undefined;
    const refused: string[] = [];
    for (const k of keys) {
      let epoch: RecordingEpoch;
      try {
        epoch = decodeRecordingEpoch(fromBase64url(k.epoch), this.profile.hub);
      } catch (e) {
        refused.push(`an epoch without the hub's signature (${isCryptoError(e) ? e.code : 'malformed'})`);
        continue;
      }
      newestNamed = Math.max(newestNamed ?? 0, epoch.epoch);
      if (this.#seeds.has(epoch.epoch)) continue;
      try {
        const opened = openEpochKey(fromBase64url(k.sealed), this.profile.device, this.profile.hub.hubId);
        if (opened.epoch !== epoch.epoch) {
          opened.seed.wipe();
          refused.push(`epoch ${epoch.epoch}: its key is sealed for epoch ${opened.epoch}`);
          continue;
        }
        this.#seeds.set(epoch.epoch, { epoch, seed: opened.seed });
        taken++;
      } catch (e) {
        refused.push(`epoch ${epoch.epoch}: its key does not open for this phone (${isCryptoError(e) ? e.code : 'malformed'})`);
      }
    }
    return { taken, refused, ...(newestNamed !== undefined ? { newestNamed } : {}) };
  }

  has(epoch: number): boolean {
    return this.#seeds.has(epoch);
  }

  seed(epoch: number): Secret | undefined {
    return this.#seeds.get(epoch)?.seed;
  }

  /** The newest epoch held (the next `recording-keys` asks only for newer ones). */
  get newest(): number | undefined {
    let n: number | undefined;
    for (const e of this.#seeds.keys()) n = n === undefined || e > n ? e : n;
    return n;
  }

  get size(): number {
    return this.#seeds.size;
  }

  wipe(): void {
    for (const { seed } of this.#seeds.values()) seed.wipe();
    this.#seeds.clear();
  }
}

/**
 * What is wrong with a segment that opened, for the user: `altered` (a chunk does not open),
 * `cut short` (its file ends inside a chunk, or before the final chunk of a segment the hub lists
 * as closed). The chunks before the damage are good (PROTOCOL §15.2).
 */
export interface SegmentDamage {
  readonly label: 'altered' | 'cut short';
  readonly detail: string;
}

export type FetchedSegment =
  | { readonly ok: true; readonly segment: OpenedSegment; readonly damage?: SegmentDamage }
  | { readonly ok: false; readonly code: 'no-recording-key' | 'not-this-segment' | 'does-not-open' | 'missing'; readonly why: string };

export interface RecordingCounters {
  /** Segments not fetched or not opened because this phone holds no key of their epoch. */
  noKey: number;
  /** Segments that opened only in part (a chunk altered, cut or moved: what came before plays). */
  damaged: number;
  /** Segments that did not open at all (another camera's or segment's file, a header altered, no file). */
  refused: number;
}

export class PhoneRecordings {
  readonly keys: RecordingKeyring;
  readonly counters: RecordingCounters = { noKey: 0, damaged: 0, refused: 0 };
  /** Why the last key refresh refused an epoch (for the user; no secrets). */
  refusedKeys: string[] = [];

  /** `crypto`: how segments are opened; libsodium by default (the hub's desktop viewer passes node:crypto's). */
  constructor(private readonly link: RecordingsLink, private readonly profile: RecordingsHolder, private readonly crypto: RecordingCryptoOptions = {}) {
    this.keys = new RecordingKeyring(profile);
  }

  /**
   * Asks the hub for the recording keys sealed to this phone that it does not hold yet. The hub
   * answers a few at a time, oldest first: ask again after the newest epoch it named, until it
   * names none (bounded). `from` asks again from that epoch on: older epochs this phone was given
   * later, by an owner sharing history (PROTOCOL §15.7; the keys held already are kept as they are).
   */
  async refreshKeys(from?: number): Promise<void> {
    this.refusedKeys = [];
    let since = from ?? (this.keys.newest === undefined ? 0 : this.keys.newest + 1);
    for (let page = 0; page < MAX_KEY_PAGES; page++) {
      const r = await this.link.command('recording-keys', { since });
      const taken = this.keys.take(r.keys);
      this.refusedKeys.push(...taken.refused);
      if (taken.newestNamed === undefined || taken.newestNamed < since) return;
      since = taken.newestNamed + 1;
    }
  }

  /** A camera's ranges and segments between `from` and `to` (Unix ms), as the hub's index has them. */
  list(cameraId: string, from: number, to: number): Promise<RecordingsResult> {
    return this.link.command('recordings', { camera: cameraId, from, to });
  }

  /**
   * Fetches and opens one segment. One of an epoch this phone holds no key of is refused before
   * anything is asked of the hub, and counted: a phone paired after it was recorded, or one the
   * hub stopped sealing keys to, gets nothing of it.
   */
  async fetch(cameraId: string, info: SegmentInfo): Promise<FetchedSegment> {
    const seed = this.keys.seed(info.epoch);
    if (seed === undefined) {
      this.counters.noKey++;
      return { ok: false, code: 'no-recording-key', why: `this phone holds no key of recording epoch ${info.epoch} (it was recorded before this phone was paired, or after it was removed)` };
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.link.segment(cameraId, info.id);
    } catch (e) {
      // Deleted since it was listed (retention), or its file gone from the hub's disk: one
      // segment missing is a gap, not the end of a playback.
      if (!(e instanceof CommandError && e.code === 'no-such-segment')) throw e;
      this.counters.refused++;
      return { ok: false, code: 'missing', why: `missing: the hub has no file of it now (${e.message})` };
    }
    let opened: OpenedSegment;
    try {
      // The hub's index is not trusted: the file's own header says what it is, and the header is
      // bound to the segment's key and every chunk (PROTOCOL §15.2), so it cannot be rewritten.
      const header = readSegmentHeader(bytes);
      if (header.segmentId.toString() !== info.id || header.epoch !== info.epoch || toHex(header.cameraId) !== cameraId) {
        this.counters.refused++;
        const what = toHex(header.cameraId) !== cameraId ? 'another camera\'s segment' : `segment ${header.segmentId} (${new Date(header.start).toISOString()})`;
        return { ok: false, code: 'not-this-segment', why: `not the segment the index names: its file is ${what}` };
      }
      opened = openSegment(bytes, seed, this.profile.hub, this.crypto);
    } catch (e) {
      this.counters.refused++;
      const cut = bytes.length < SEGMENT_HEADER_BYTES;
      return { ok: false, code: 'does-not-open', why: `${cut ? 'cut short' : 'altered'}: it does not open (${isCryptoError(e) ? e.message : String(e)})` };
    }
    const damage = damageOf(info, opened);
    if (damage !== undefined) this.counters.damaged++;
    return { ok: true, segment: opened, ...(damage !== undefined ? { damage } : {}) };
  }

  /** Wipes every seed held. */
  close(): void {
    this.keys.wipe();
  }
}


/**
 * What is wrong with a segment that opened. A segment with no final chunk the hub still writes,
 * or stopped writing in a crash, is listed as not closed; one listed as closed that has none was
 * cut after it closed.
 */
function damageOf(info: SegmentInfo, s: OpenedSegment): SegmentDamage | undefined {
  if (s.damaged !== undefined) return { label: s.damage === 'cut' ? 'cut short' : 'altered', detail: s.damaged };
  if (s.truncated && info.closed) return { label: 'cut short', detail: 'its file ends before its final chunk, though the hub lists it as closed' };
  return undefined;
}

/** The most `recording-keys` answers one refresh asks for (a few keys each). */
const MAX_KEY_PAGES = 1000;

/** The most `recordings` pages one range asks for (up to MAX_SEGMENTS_LISTED each). */
const MAX_PAGES = 100;

/** Every segment of a camera that overlaps [from, to), oldest first, over as many pages as needed. */
export async function segmentsBetween(recs: PhoneRecordings, cameraId: string, from: number, to: number): Promise<SegmentInfo[]> {
  const out = new Map<string, SegmentInfo>();
  let at = from;
  // The hub may list fewer than asked (its answer's size): ask again from the newest end it
  // listed, until a page brings nothing new (bounded).
  for (let page = 0; page < MAX_PAGES && at < to; page++) {
    const r = await recs.list(cameraId, at, to);
    const before = out.size;
    for (const s of r.segments) if (s.end > from && s.start < to) out.set(s.id, s);
    if (r.segments.length === 0 || out.size === before) break;
    const next = Math.max(...r.segments.map((s) => s.end));
    if (!(next > at)) break;
    at = next;
  }
  return [...out.values()].sort((a, b) => a.start - b.start || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

export interface ClipOutcome {
  /** Segments whose chunks are in the file. */
  readonly segments: number;
  readonly bytes: number;
  /** Segments left out (no key, damaged, unsigned for an export), each said through `say`. */
  readonly left: number;
  /** Segments in the file only up to a damage (altered or cut short), each said through `say`. */
  readonly partial: number;
  /** The first and last time in the file (the segments' own), Unix ms. */
  readonly start?: number;
  readonly end?: number;
  /** Why the file ends before `to`, if the camera's stream changed (a new init). */
  readonly endedAt?: { readonly time: number; readonly why: string };
  /** An export's proof entries. */
  readonly proof: readonly ClipSegment[];
}

/**
 * Writes one MP4 of a camera's recordings overlapping [from, to): each segment fetched, opened
 * and handed to the ClipAssembler in time order, one at a time (memory bounded by a segment).
 * Whole segments only: a clip starts at the first segment's keyframe and ends with the last's
 * fragments, so it may reach a few seconds outside [from, to). What is left out is said through
 * `say`, one line per segment naming it, its listed times and what is wrong; the rest plays, and
 * what is left out is a gap in the file's time (segments keep their recorded decode times).
 */
export async function writeClip(
  recs: PhoneRecordings, cameraId: string, from: number, to: number,
  opts: { readonly evidence: boolean; write(bytes: Uint8Array): void; say(line: string): void },
): Promise<ClipOutcome> {
  const asm = new ClipAssembler({ evidence: opts.evidence });
  const list = await segmentsBetween(recs, cameraId, from, to);
  let segments = 0;
  let left = 0;
  let partial = 0;
  let start: number | undefined;
  let end: number | undefined;
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const info of list) {
    const when = iso(info.start);
    const name = `segment ${info.id} (${when} to ${iso(info.end)})`;
    const got = await recs.fetch(cameraId, info);
    if (!got.ok) {
      opts.say(`${name}: ${got.why}; left out`);
      left++;
      continue;
    }
    const damage = got.damage === undefined ? undefined : `${got.damage.label}: ${got.damage.detail}`;
    const step = asm.add(got.segment);
    if (step.kind === 'end') {
      opts.say(`${name}: ${step.why}; the file ends before it: ask again from ${when} for the rest`);
      return { segments, bytes: asm.bytes, left, partial, ...(start !== undefined ? { start, end } : {}), endedAt: { time: info.start, why: step.why }, proof: asm.segments };
    }
    if (step.kind === 'skip') {
      opts.say(`${name}: ${damage ?? step.why}; left out`);
      left++;
      continue;
    }
    const chunks = got.segment.chunks;
    const lastTime = chunks[chunks.length - 1]?.time ?? info.start;
    if (damage !== undefined) {
      const played = chunks.length > 1 ? `played up to its fragment at ${iso(lastTime)}, the rest of it left out` : 'none of it plays';
      opts.say(`${name}: ${damage}; ${played}`);
      partial++;
    }
    for (const b of step.bytes) opts.write(b);
    segments++;
    start ??= chunks[0]?.time ?? info.start;
    end = got.segment.proof?.end ?? lastTime;
  }
  return { segments, bytes: asm.bytes, left, partial, ...(start !== undefined ? { start, end } : {}), proof: asm.segments };
}

/** What a timeline shows for a segment: its init chunk and first fragment (which starts at a keyframe). */
export interface Keyframe {
  readonly segmentId: string;
  readonly init: Uint8Array;
  readonly fragment: Uint8Array;
  /** The fragment's capture time (Unix ms). */
  readonly time: number;
}

/**
 * A segment's keyframe (PROTOCOL §15.3: a segment starts at a keyframe, its init as chunk 0 and
 * that fragment as chunk 1), or undefined if the segment opened with fewer chunks than that.
 */
export function keyframeOf(segmentId: string, segment: OpenedSegment): Keyframe | undefined {
  const [init, first] = segment.chunks;
  if (init?.kind !== 'init' || first?.kind !== 'media') return undefined;
  return { segmentId, init: init.payload, fragment: first.payload, time: first.time };
}
