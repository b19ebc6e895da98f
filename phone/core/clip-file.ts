// One MP4 file from recorded segments (`vigil-phone play` and `export`). Each segment starts with
// its camera run's init chunk; the file holds it once, then the segments' fragments, with their
// decode times moved so the file starts at 0 (lib/fmp4-time.ts FileTimeline, as `watch` does).
// A segment whose init differs (the camera's codec or picture size changed) ends the file there:
// one fMP4 file has one init, so the caller says so and the user asks for the rest separately.
//
// For an export (`evidence`), only whole segments the hub signed go in, and the clip's proof
// (crypto/clip-proof.ts) records where each chunk lies and by how much each segment's decode
// times moved; every media chunk is checked to restore exactly to what the hub signed, so an
// export the phone writes always verifies.
import { equalBytes } from '../../crypto/bytes.ts';
import { clipSegment, restoreDecodeTimes, type ClipChunk, type ClipSegment } from '../../crypto/clip-proof.ts';
import type { OpenedSegment } from '../../crypto/recording.ts';
import { FileTimeline, Fmp4TimeError, decodeTimes, trackTimescales } from '../../lib/fmp4-time.ts';

export type ClipStep =
  /** Append these bytes to the file. `partial`: why only the chunks before a damaged one are in. */
  | { readonly kind: 'write'; readonly bytes: readonly Uint8Array[]; readonly partial?: string }
  /** The segment is not in the file (the file goes on with the next). */
  | { readonly kind: 'skip'; readonly why: string }
  /** The segment starts another camera run (a different init): the file ends before it. */
  | { readonly kind: 'end'; readonly why: string };

export class ClipAssembler {
  readonly #evidence: boolean;
  readonly #timeline = new FileTimeline();
  #init: { payload: Uint8Array; at: readonly [number, number] } | undefined;
  #bytes = 0;
  #ended = false;
  /** The last fragment written: its start in its camera run (recorded decode time, seconds). */
  #lastRecorded: number | undefined;
  readonly #segments: ClipSegment[] = [];

  /** `evidence`: an export, with a proof (only signed segments, each whole). */
  constructor(opts: { evidence: boolean }) {
    this.#evidence = opts.evidence;
  }

  /** Bytes handed out to write so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The proof's segment entries (evidence only), in file order. */
  get segments(): readonly ClipSegment[] {
    return this.#segments;
  }

  /** What to do with the next segment, in time order (see ClipStep). */
  add(segment: OpenedSegment): ClipStep {
    if (this.#ended) return { kind: 'end', why: 'the file already ended' };
    if (this.#evidence) {
      if (segment.damaged !== undefined) return { kind: 'skip', why: `damaged: ${segment.damaged}` };
      if (segment.proof === undefined) return { kind: 'skip', why: 'not signed by the hub yet (still being written, or the hub stopped while writing it)' };
    }
    const chunks = segment.chunks;
    const init = chunks[0];
    if (init === undefined || init.kind !== 'init') return { kind: 'skip', why: segment.damaged !== undefined ? `damaged: ${segment.damaged}` : 'it holds no init chunk' };
    if (chunks.slice(1).some((c) => c.kind !== 'media')) return { kind: 'skip', why: 'a second init chunk inside it' };
    if (this.#init !== undefined && !equalBytes(this.#init.payload, init.payload)) {
      this.#ended = true;
      return { kind: 'end', why: 'the camera\'s stream changed (a new init segment: another codec or picture size)' };
    }
    const out: Uint8Array[] = [];
    let offset = this.#bytes;
    const inFile: ClipChunk[] = [];
    let initAt = this.#init?.at;
    if (initAt === undefined) {
      initAt = [offset, init.payload.length];
      out.push(init.payload);
      offset += init.payload.length;
    }
    inFile.push({ kind: 'init', time: init.time, at: initAt });
    let shift: Record<string, number> | undefined;
    let last: number | undefined;
    try {
      // A segment that goes on with the decode times of the one before keeps them (a gap in
      // them stays a gap); one whose times go back starts a new camera run (the hub or the
      // camera restarted: times from 0 again), placed just after the last fragment written.
      const first = chunks[1] === undefined ? undefined : startSeconds(chunks[1].payload, trackTimescales(init.payload));
      if (this.#lastRecorded === undefined || (first !== undefined && first < this.#lastRecorded)) this.#timeline.init(init.payload);
      for (const c of chunks.slice(1)) {
        const recorded = this.#evidence ? Uint8Array.from(c.payload) : undefined;
        const payload = Uint8Array.from(c.payload);
        this.#timeline.rebase(payload);
        if (recorded !== undefined) {
          shift ??= shiftOf(recorded, payload);
          if (!equalBytes(restoreDecodeTimes(payload, shift), recorded)) throw new Fmp4TimeError('decode times do not move by one constant per track');
        }
        out.push(payload);
        last = startSeconds(c.payload, trackTimescales(init.payload));
        inFile.push({ kind: 'media', time: c.time, at: [offset, payload.length] });
        offset += payload.length;
      }
    } catch (e) {
      if (!(e instanceof Fmp4TimeError)) throw e;
      return { kind: 'skip', why: `its fragments do not parse as fMP4 (${e.message})` };
    }
    if (this.#init === undefined) this.#init = { payload: init.payload, at: initAt };
    if (last !== undefined) this.#lastRecorded = last;
    if (this.#evidence) this.#segments.push(clipSegment(segment.proof!, inFile, shift ?? {}));
    this.#bytes = offset;
    return {
      kind: 'write', bytes: out,
      ...(segment.damaged !== undefined ? { partial: `damaged: ${segment.damaged}; the ${chunks.length - 1} fragments before it are in` } : {}),
    };
  }
}

/** Per track: recorded decode time − decode time in the file. */
function shiftOf(recorded: Uint8Array, moved: Uint8Array): Record<string, number> {
  const after = new Map(decodeTimes(moved).map((t) => [t.trackId, t.decodeTime]));
  return Object.fromEntries(decodeTimes(recorded).map((t) => [String(t.trackId), t.decodeTime - (after.get(t.trackId) ?? t.decodeTime)]));
}

/** A fragment's start in its camera run: the earliest of its tracks' decode times, in seconds. */
function startSeconds(fragment: Uint8Array, timescales: ReadonlyMap<number, number>): number | undefined {
  const times = decodeTimes(fragment);
  return times.length === 0 ? undefined : Math.min(...times.map((t) => t.decodeTime / (timescales.get(t.trackId) ?? 1)));
}
