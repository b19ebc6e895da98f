// The recorder (PROTOCOL §15.3): a media bus consumer that writes each camera's own stream, in mode
// `continuous` all the time and in mode `events` around each event on the events bus (from the
// pre-roll it keeps to POST_ROLL_MS after the event ends), as sealed segments the hub cannot read back (crypto/recording.ts). A segment starts
// at a keyframe with the stream's init segment as chunk 0, takes each fragment as a `media` chunk
// at its capture time, and closes at the first keyframe after SEGMENT_MS, at a new init segment (the
// camera restarted), at a new recording epoch, when the camera sends nothing for STALE_MS (a gap,
// not a broken segment), when its stream ends, and when the hub closes. Its index row is written
// before the file and updated at close; recovery.ts makes the two agree after a crash.
//
// Writes are synchronous appends on the event loop: ordered, and a fragment is on its way to the
// disk before the next arrives (a page-cache write of a few hundred kB). A write that fails for
// lack of space closes the segment cleanly, deletes the oldest recordings and recording goes on at
// the next keyframe.
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameAead } from '../../crypto/frame.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { SegmentWriter, type RecordingEpoch } from '../../crypto/recording.ts';
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import { hexToBytes } from '../hex.ts';
import { nodeFrameAead } from '../node-aead.ts';
import type { DetectedEvent, EventConsumer } from '../events/hub-events.ts';
import type { MediaConsumer, MediaStream } from '../media/media-bus.ts';
import type { RecordingIndex, RecordingMode } from '../store/recordings.ts';
import { recoverRecordings, type RecoveryReport } from './recovery.ts';
import { Retention, type DiskSpace } from './retention.ts';
import { realSegmentFiles, segmentPath, type SegmentFileSystem } from './segment-files.ts';

/** A segment closes at the first keyframe this long after its start. */
export const SEGMENT_MS = 4000;
/** Or at the first keyframe once it holds this much (a camera with a very long GOP). */
export const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
/** A camera that sent nothing for this long has its segment closed: a gap, not a broken segment. */
export const STALE_MS = 10_000;
const TICK_MS = 2000;
/** Keep days, quota and free space are checked this often, and after every segment. */
export const RETENTION_EVERY_MS = 60_000;
/** In `events` mode, video kept from before an event starts (from a keyframe at most this long before it). */
export const PRE_ROLL_MS = 5000;
/** ...and recorded after it ends. */
export const POST_ROLL_MS = 10_000;
/** Pre-roll a camera holds in memory at most (a camera with a very long GOP keeps less). */
export const MAX_PRE_ROLL_BYTES = 16 * 1024 * 1024;
/** An event never ended (its detector stopped) stops being recorded after this long. */
export const MAX_EVENT_MS = 30 * 60_000;
export const EVENTS_MODE_NOTE = `events mode records from up to ${PRE_ROLL_MS / 1000} s before each event to ${POST_ROLL_MS / 1000} s after it ends`;

export interface RecorderParts {
  dataDir: string;
  identity: HubIdentity;
  index: RecordingIndex;
  epochs: { readonly current: RecordingEpoch | undefined; onChange(listener: (e: RecordingEpoch | undefined) => void): () => void };
  /** Bytes all recordings may take (`--storage-max-gb`). */
  quotaBytes?: number;
  files?: SegmentFileSystem;
  disk?: (dir: string) => DiskSpace;
  now?: () => number;
  log?(line: string): void;
  /** Seals chunks; default node:crypto's (the same bytes as the phones' libsodium, about 3x faster). */
  aead?: FrameAead;
}

interface OpenSegment {
  readonly id: number;
  readonly path: string;
  readonly epoch: number;
  readonly writer: SegmentWriter;
  readonly fd: number;
  readonly startMs: number;
  lastMs: number;
  /** Bytes of whole chunks in the file. */
  bytes: number;
  mediaChunks: number;
  lastArrival: number;
}

interface CameraState {
  init: IngestInit | undefined;
  open: OpenSegment | undefined;
  /** The newest chunk time written for this camera: times never go back (the clock may). */
  lastMs: number;
  /** `events` mode: recent fragments from a keyframe, written when an event starts. */
  preRoll: { fragment: IngestFragment; bytes: number }[];
  preRollBytes: number;
  /** Events going on (key to start, on the capture clock), and until when the last one's post-roll runs. */
  events: Map<string, number>;
  postRollUntil: number;
}

export interface RecorderStatus {
  readonly cameraId: string;
  readonly mode: RecordingMode;
  /** A segment is being written now. */
  readonly recording: boolean;
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The disk is full: a file write's ENOSPC or EDQUOT, or SQLite's SQLITE_FULL (the index lives on
 * the same disk, and its write may be the one that fails first).
 */
function diskFull(e: unknown): boolean {
  const code = errorCode(e);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Recorder implements MediaConsumer {
  readonly #cameras = new Map<string, CameraState>();
  readonly #modes = new Map<string, RecordingMode>();
  /** Segments being closed after a failed write: retention must not delete them meanwhile. */
  readonly #closing = new Set<number>();
  readonly #files: SegmentFileSystem;
  readonly #now: () => number;
  readonly #retention: Retention;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastRetention = 0;
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  /** Write failures for lack of space since start (status, tests). */
  diskFullEvents = 0;
  /**
   * Fragments handed to be recorded and their bytes, and those written as media chunks, since
   * start (bench:recording: the difference is what was dropped, e.g. while waiting for a keyframe).
   */
  readonly counts = { fragments: 0, fragmentBytes: 0, written: 0 };

  constructor(private readonly p: RecorderParts) {
    this.#files = p.files ?? realSegmentFiles;
    this.#now = p.now ?? Date.now;
    this.#retention = new Retention({
      dataDir: p.dataDir, index: p.index, now: this.#now, isOpen: (id) => this.#isOpen(id),
      ...(p.quotaBytes !== undefined ? { quotaBytes: p.quotaBytes } : {}),
      ...(p.disk ? { disk: p.disk } : {}),
      ...(p.log ? { log: p.log } : {}),
    });
  }

  /** Recovers the index from the files, then records; `timers` false for tests that tick by hand. */
  start(opts: { timers?: boolean } = {}): RecoveryReport {
    const report = recoverRecordings(this.p.dataDir, this.p.index);
    this.#retention.added(this.p.index.totalBytes() - this.#retention.totalBytes);
    if (report.kept + report.closed + report.rowsRemoved + report.filesRemoved > 0) {
      this.p.log?.(`recordings: recovered ${report.kept} unfinished segment${report.kept === 1 ? '' : 's'}, ` +
        `removed ${report.rowsRemoved} index row${report.rowsRemoved === 1 ? '' : 's'} and ${report.filesRemoved} stray file${report.filesRemoved === 1 ? '' : 's'}`);
    }
    this.#unsubscribe = this.p.epochs.onChange(() => this.#closeAll('new recording epoch'));
    this.#retentionCheck(true);
    if (opts.timers !== false) {
      this.#timer = setInterval(() => this.tick(), TICK_MS);
      this.#timer.unref();
    }
    return report;
  }

  /** Closes every open segment; nothing is recorded after. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#closeAll('hub stopping');
  }

  /** Closes segments of cameras gone quiet, and runs retention every minute. */
  tick(): void {
    const now = this.#now();
    for (const [cameraId, state] of this.#cameras) {
      if (state.open !== undefined && now - state.open.lastArrival >= STALE_MS) this.#close(cameraId, state, state.open.lastMs);
      for (const [key, start] of state.events) {
        if (state.lastMs - start > MAX_EVENT_MS) {
          state.events.delete(key);
          this.p.log?.(`recordings: event ${key} on camera ${cameraId.slice(0, 8)} never ended; recorded ${MAX_EVENT_MS / 60_000} min of it`);
        }
      }
    }
    if (now - this.#lastRetention >= RETENTION_EVERY_MS) this.#retentionCheck(true);
  }

  /** The owner changed a camera's mode: read it again (and stop a segment it no longer wants). */
  settingsChanged(cameraId: string): void {
    this.#modes.delete(cameraId);
    const state = this.#cameras.get(cameraId);
    if (state === undefined) return;
    const mode = this.#mode(cameraId);
    if (mode !== 'events') this.#dropPreRoll(state);
    if (state.open !== undefined && !(mode === 'continuous' || (mode === 'events' && this.#eventWants(state, state.lastMs)))) {
      this.#close(cameraId, state, state.open.lastMs);
    }
  }

  // ---- the events bus ---------------------------------------------------------------------------

  /** What the recorder takes from the events bus (main/hub.ts subscribes it): `events` mode records around these. */
  readonly events: EventConsumer = {
    started: (key, event) => this.#eventStarted(key, event),
    ended: (key, event) => this.#eventEnded(key, event),
  };

  #eventStarted(key: string, event: DetectedEvent): void {
    if (this.#stopped) return;
    this.#state(event.cameraId).events.set(key, event.startMs);
  }

  #eventEnded(key: string, event: DetectedEvent): void {
    const state = this.#cameras.get(event.cameraId);
    if (state === undefined || !state.events.delete(key)) return;
    state.postRollUntil = Math.max(state.postRollUntil, (event.endMs ?? state.lastMs) + POST_ROLL_MS);
  }

  status(cameraId: string): RecorderStatus {
    return { cameraId, mode: this.#mode(cameraId), recording: this.#cameras.get(cameraId)?.open !== undefined };
  }

  get totalBytes(): number {
    return this.#retention.totalBytes;
  }

  /** Runs retention now (tests; the hub runs it after each segment and every minute). */
  enforceRetention(): number {
    return this.#retentionCheck(true);
  }

  // ---- the bus ----------------------------------------------------------------------------------

  init(stream: MediaStream, init: IngestInit): void {
    if (stream.kind !== 'camera' || this.#stopped) return;
    const state = this.#state(stream.cameraId);
    // A new init is a restarted camera: what follows does not continue the open segment.
    if (state.open !== undefined) this.#close(stream.cameraId, state, state.open.lastMs);
    this.#dropPreRoll(state);
    state.init = init;
  }

  fragment(stream: MediaStream, f: IngestFragment): void {
    if (stream.kind !== 'camera' || this.#stopped) return;
    const cameraId = stream.cameraId;
    const state = this.#state(cameraId);
    const mode = this.#mode(cameraId);
    if (mode === 'events') {
      if (!this.#eventWants(state, f.captureTime)) {
        if (state.open !== undefined) this.#close(cameraId, state, state.open.lastMs);
        this.#keepPreRoll(state, f);
        return;
      }
      // An event began: first the pre-roll, from its keyframe (the stream's GOP if none kept yet).
      if (state.open === undefined) {
        const pre = state.preRoll.length > 0 ? state.preRoll.map((p) => p.fragment) : stream.gop.filter((g) => g !== f && g.captureTime <= f.captureTime);
        this.#dropPreRoll(state);
        for (const p of pre) this.#record(stream, state, p);
      }
    } else if (mode !== 'continuous') {
      if (state.open !== undefined) this.#close(cameraId, state, state.open.lastMs);
      return;
    }
    this.#record(stream, state, f);
  }

  #record(stream: MediaStream, state: CameraState, f: IngestFragment): void {
    const cameraId = stream.cameraId;
    this.counts.fragments++;
    this.counts.fragmentBytes += f.data.length;
    const time = Math.max(f.captureTime, state.lastMs);
    const open = state.open;
    if (open !== undefined && f.keyframe && (time - open.startMs >= SEGMENT_MS || open.bytes >= MAX_SEGMENT_BYTES)) {
      // Ends where the next begins, unless the camera was silent in between (a gap, not video).
      this.#close(cameraId, state, time - open.lastMs < STALE_MS ? time : open.lastMs);
    }
    if (state.open === undefined) {
      if (!f.keyframe) return; // a segment starts where a player can
      const init = state.init ?? stream.init;
      if (init === undefined) return;
      if (!this.#open(cameraId, state, init, time)) return;
    }
    const seg = state.open!;
    const bytes = seg.writer.chunk('media', time, f.data);
    if (!this.#append(cameraId, state, seg, bytes)) return;
    seg.lastMs = time;
    seg.mediaChunks++;
    this.counts.written++;
    seg.lastArrival = this.#now();
    state.lastMs = time;
  }

  ended(stream: MediaStream): void {
    if (stream.kind !== 'camera') return;
    const state = this.#cameras.get(stream.cameraId);
    if (state?.open !== undefined) this.#close(stream.cameraId, state, state.open.lastMs);
    if (state !== undefined) this.#dropPreRoll(state);
    this.#cameras.delete(stream.cameraId);
  }

  #eventWants(state: CameraState, time: number): boolean {
    return state.events.size > 0 || time <= state.postRollUntil;
  }

  /** Keeps fragments from the newest keyframe at least PRE_ROLL_MS old (bounded in bytes). */
  #keepPreRoll(state: CameraState, f: IngestFragment): void {
    const ring = state.preRoll;
    if (ring.length === 0 && !f.keyframe) return; // the pre-roll starts where a player can
    ring.push({ fragment: f, bytes: f.data.length });
    state.preRollBytes += f.data.length;
    for (;;) {
      const next = ring.findIndex((p, i) => i > 0 && p.fragment.keyframe);
      if (next < 0) break;
      const tooOld = f.captureTime - ring[next]!.fragment.captureTime >= PRE_ROLL_MS;
      if (!tooOld && state.preRollBytes <= MAX_PRE_ROLL_BYTES) break;
      for (const p of ring.splice(0, next)) state.preRollBytes -= p.bytes;
    }
    if (state.preRollBytes > MAX_PRE_ROLL_BYTES) this.#dropPreRoll(state);
  }

  #dropPreRoll(state: CameraState): void {
    state.preRoll = [];
    state.preRollBytes = 0;
  }

  // ---- segments ---------------------------------------------------------------------------------

  #state(cameraId: string): CameraState {
    let state = this.#cameras.get(cameraId);
    if (state === undefined) {
      // After a restart, carry on from the newest time already recorded for this camera.
      const newest = this.p.index.newestEnd(cameraId) ?? 0;
      state = { init: undefined, open: undefined, lastMs: newest, preRoll: [], preRollBytes: 0, events: new Map(), postRollUntil: 0 };
      this.#cameras.set(cameraId, state);
    }
    return state;
  }

  #mode(cameraId: string): RecordingMode {
    let mode = this.#modes.get(cameraId);
    if (mode === undefined) {
      mode = this.p.index.settings(cameraId).mode;
      this.#modes.set(cameraId, mode);
    }
    return mode;
  }

  #isOpen(id: number): boolean {
    if (this.#closing.has(id)) return true;
    for (const s of this.#cameras.values()) if (s.open?.id === id) return true;
    return false;
  }

  #open(cameraId: string, state: CameraState, init: IngestInit, time: number): boolean {
    const epoch = this.p.epochs.current;
    if (epoch === undefined) return false;
    let row;
    try {
      row = this.p.index.openSegment({ cameraId, epoch: epoch.epoch, startMs: time, bytes: 0 }, (id) => segmentPath(cameraId, id));
    } catch (e) {
      // A full disk may fail the index before any file: space is freed and the next keyframe tries again.
      this.#writeFailed(e, `cannot index a new segment of camera ${cameraId.slice(0, 8)}`);
      return false;
    }
    const path = join(this.p.dataDir, row.path);
    let fd: number;
    let writer: SegmentWriter | undefined;
    try {
      fd = this.#files.create(path);
    } catch (e) {
      this.p.index.deleteSegment(row.id);
      this.#writeFailed(e, `cannot create a segment file for camera ${cameraId.slice(0, 8)}`);
      return false;
    }
    try {
      writer = new SegmentWriter(this.p.identity, epoch, { cameraId: hexToBytes(cameraId), segmentId: BigInt(row.id), start: time }, { aead: this.p.aead ?? nodeFrameAead });
      const head = writer.headerBytes;
      const first = writer.chunk('init', time, init.data);
      this.#files.append(fd, head);
      this.#files.append(fd, first);
      this.#retention.added(head.length + first.length);
      state.open = {
        id: row.id, path, epoch: epoch.epoch, writer, fd, startMs: time, lastMs: time,
        bytes: head.length + first.length, mediaChunks: 0, lastArrival: this.#now(),
      };
      state.lastMs = time;
      this.p.index.updateSegment(row.id, { endMs: time, bytes: state.open.bytes, closed: false });
      return true;
    } catch (e) {
      // Not one fragment in it yet: the segment goes whole.
      writer?.abandon();
      this.#discard(fd, row.id, path, 0);
      this.#writeFailed(e, `cannot start a segment for camera ${cameraId.slice(0, 8)}`);
      return false;
    }
  }

  /** Appends whole chunks; on failure the segment is closed as well as the disk allows. */
  #append(cameraId: string, state: CameraState, seg: OpenSegment, bytes: Uint8Array): boolean {
    try {
      this.#files.append(seg.fd, bytes);
    } catch (e) {
      state.open = undefined;
      this.#failed(cameraId, seg, e);
      return false;
    }
    seg.bytes += bytes.length;
    this.#retention.added(bytes.length);
    return true;
  }

  /** The final chunk, the file closed, the row updated. */
  #close(cameraId: string, state: CameraState, endMs: number): void {
    const seg = state.open;
    if (seg === undefined) return;
    state.open = undefined;
    if (seg.mediaChunks === 0) {
      seg.writer.abandon();
      this.#discard(seg.fd, seg.id, seg.path, seg.bytes);
      return;
    }
    const end = Math.max(endMs, seg.lastMs);
    const final = seg.writer.close(end).bytes;
    try {
      this.#files.append(seg.fd, final);
    } catch (e) {
      this.#failed(cameraId, seg, e, { bytes: final, end });
      return;
    }
    seg.bytes += final.length;
    this.#retention.added(final.length);
    this.#finish(seg, end, true);
    this.#retentionCheck(false);
  }

  /**
   * A write failed: the half-written chunk is cut off and the key wiped (abandon: a chunk the writer
   * sealed but the disk lost leaves no room for a valid final chunk), and for lack of space the
   * oldest recordings go. The segment stays readable to its last whole chunk, closed = false. Only a
   * final chunk that failed is written again, the same bytes, once space was freed.
   */
  #failed(cameraId: string, seg: OpenSegment, e: unknown, final?: { bytes: Uint8Array; end: number }): void {
    seg.writer.abandon();
    try {
      this.#files.truncate(seg.fd, seg.bytes);
    } catch (cause) {
      this.p.log?.(`recordings: cannot cut segment ${seg.id} back to its last chunk: ${message(cause)}`);
    }
    if (seg.mediaChunks === 0) {
      this.#discard(seg.fd, seg.id, seg.path, seg.bytes);
      this.#writeFailed(e, `writing segment ${seg.id} of camera ${cameraId.slice(0, 8)}`);
      return;
    }
    // Retention may run now (the disk is full): this segment is not among what it may delete.
    this.#closing.add(seg.id);
    this.#writeFailed(e, `writing segment ${seg.id} of camera ${cameraId.slice(0, 8)}`);
    let closed = false;
    if (final !== undefined) {
      try {
        this.#files.append(seg.fd, final.bytes);
        seg.bytes += final.bytes.length;
        this.#retention.added(final.bytes.length);
        closed = true;
      } catch {
        try {
          this.#files.truncate(seg.fd, seg.bytes);
        } catch {
          // recovery cuts it at the next start
        }
      }
    }
    this.#closing.delete(seg.id);
    this.#finish(seg, closed ? final!.end : seg.lastMs, closed);
  }

  #finish(seg: OpenSegment, endMs: number, closed: boolean): void {
    try {
      this.#files.close(seg.fd);
    } catch (e) {
      this.p.log?.(`recordings: closing segment ${seg.id}: ${message(e)}`);
    }
    const update = { endMs, bytes: seg.bytes, closed };
    try {
      this.p.index.updateSegment(seg.id, update);
    } catch (e) {
      // The disk filled under the index: free space (never this segment) and write the row again.
      this.#closing.add(seg.id);
      this.#writeFailed(e, `indexing segment ${seg.id}`);
      this.#closing.delete(seg.id);
      try {
        this.p.index.updateSegment(seg.id, update);
      } catch (again) {
        this.p.log?.(`recordings: segment ${seg.id} stays unindexed until the next start (recovery reads the file): ${message(again)}`);
      }
    }
  }

  /** A segment with nothing to play: file and row go (`counted`: its bytes retention counted). */
  #discard(fd: number, id: number, path: string, counted: number): void {
    try {
      this.#files.close(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(path);
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') this.p.log?.(`recordings: cannot remove ${path}: ${message(e)}`);
    }
    this.p.index.deleteSegment(id);
    this.#retention.added(-counted);
  }

  #writeFailed(e: unknown, what: string): void {
    const full = diskFull(e);
    this.p.log?.(`recordings: ${what}: ${full ? 'the disk is full' : message(e)}`);
    if (full) {
      this.diskFullEvents++;
      this.#retentionCheck(false, true);
    }
  }

  #closeAll(why: string): void {
    let n = 0;
    for (const [cameraId, state] of this.#cameras) {
      if (state.open !== undefined) {
        this.#close(cameraId, state, state.open.lastMs);
        n++;
      }
    }
    if (n > 0) this.p.log?.(`recordings: closed ${n} segment${n === 1 ? '' : 's'} (${why})`);
  }

  #retentionCheck(days: boolean, force = false): number {
    if (days) this.#lastRetention = this.#now();
    try {
      const deleted = this.#retention.check({ days, force });
      const epoch = this.p.epochs.current?.epoch;
      if (deleted > 0 && epoch !== undefined) this.p.index.pruneEpochs(epoch);
      return deleted;
    } catch (e) {
      this.p.log?.(`recordings: retention failed: ${message(e)}`);
      return 0;
    }
  }
}
