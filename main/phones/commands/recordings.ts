// recording-keys, recordings and segment (PROTOCOL §15.5): what a phone needs to play recordings the
// hub itself cannot open. The hub hands out the phone's own sealed epoch seeds, the index, and a
// segment's stored ciphertext as it is on disk (no decryption, no re-encryption), in blob notices
// like a snapshot's. A phone with no sealed seed for a segment's epoch (paired later, or removed
// before it) is refused before one byte is read, and the refusal is audited and counted.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { toBase64url } from '../../../crypto/bytes.ts';
import type { Notice } from '../../../crypto/messages.ts';
import { CommandRefused, MAX_SEGMENTS_LISTED, type SegmentInfo } from '../../../crypto/phone-commands.ts';
import type { Store } from '../../store/db.ts';
import type { RecordingIndex } from '../../store/recordings.ts';
import { SNAPSHOT_CHUNK_BYTES } from './camera-control.ts';
import type { Handler } from './handlers.ts';

/** Sealed seeds per `recording-keys` answer (each about 3.4 kB of JSON); ask again from the last + 1. */
export const MAX_KEYS_PER_ANSWER = 12;
/** Segments closer than this make one range of the timeline. */
export const RANGE_GAP_MS = 5000;
/** The most ranges one answer lists (older first; ask a narrower window for more). */
export const MAX_RANGES_LISTED = 500;
/** `recordings` without `from`: the day before `to`. */
export const DEFAULT_WINDOW_MS = 24 * 3600 * 1000;
/** JSON a `recordings` answer may hold: a session message carries 60 000 bytes (§11.2). */
const ANSWER_BUDGET_CHARS = 50_000;
/** Blob chunks of one segment a phone accepts (phone/core/link/rpc.ts). */
const MAX_SEGMENT_CHUNKS = 512;

export interface RecordingCommandParts {
  store: Pick<Store, 'getCamera' | 'audit'>;
  index: Pick<RecordingIndex, 'keysFor' | 'hasKey' | 'segment' | 'segmentsIn' | 'timesIn' | 'settings'>;
  dataDir: string;
  notify(deviceId: string, notice: Notice): void;
  now?: () => number;
}

function cameraIdOf(store: Pick<Store, 'getCamera'>, idOrName: string): string {
  const camera = store.getCamera(idOrName);
  if (camera === undefined) throw new CommandRefused('no-such-camera', 'no such camera');
  return camera.id;
}

/** Merges segments less than RANGE_GAP_MS apart, oldest first, at most MAX_RANGES_LISTED. */
export function mergeRanges(times: Iterable<{ startMs: number; endMs: number }>): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  for (const t of times) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && t.startMs - last.end < RANGE_GAP_MS) {
      last.end = Math.max(last.end, t.endMs);
      continue;
    }
    if (ranges.length >= MAX_RANGES_LISTED) break;
    ranges.push({ start: t.startMs, end: t.endMs });
  }
  return ranges;
}

export class RecordingCommands {
  /** `segment` refusals for want of a key since start (tests, status). */
  refusedNoKey = 0;
  /** Each phone's segment being sent: one at a time, so playback never crowds out live video. */
  readonly #sending = new Map<string, Promise<unknown>>();

  constructor(private readonly p: RecordingCommandParts) {}

  readonly keys: Handler<'recording-keys'> = async ({ since }, { device }) => ({
    keys: this.p.index.keysFor(device.id, since ?? 0, MAX_KEYS_PER_ANSWER).map((k) => ({ epoch: toBase64url(k.epoch.epoch), sealed: toBase64url(k.sealed) })),
  });

  readonly recordings: Handler<'recordings'> = async (args) => {
    const cameraId = cameraIdOf(this.p.store, args.camera);
    const to = args.to ?? (this.p.now ?? Date.now)();
    const from = args.from ?? to - DEFAULT_WINDOW_MS;
    if (from > to) throw new CommandRefused('bad-arguments', 'from must not be after to');
    const ranges = mergeRanges(this.p.index.timesIn(cameraId, from, to));
    let budget = ANSWER_BUDGET_CHARS - JSON.stringify(ranges).length;
    const segments: SegmentInfo[] = [];
    for (const s of this.p.index.segmentsIn(cameraId, from, to, MAX_SEGMENTS_LISTED)) {
      const info: SegmentInfo = { id: String(s.id), epoch: s.epoch, start: s.startMs, end: s.endMs, bytes: s.bytes, closed: s.closed };
      budget -= JSON.stringify(info).length + 1;
      if (budget < 0) break; // the newest are dropped: the phone asks again from the last one's end
      segments.push(info);
    }
    return { ranges, segments, mode: this.p.index.settings(cameraId).mode };
  };

  readonly segment: Handler<'segment'> = async (args, { device, seq }) => {
    const cameraId = cameraIdOf(this.p.store, args.camera);
    const id = Number(args.id);
    const row = Number.isSafeInteger(id) ? this.p.index.segment(id) : undefined;
    if (row === undefined || row.cameraId !== cameraId) throw new CommandRefused('no-such-segment', 'no such segment (deleted, or another camera\'s)');
    if (!this.p.index.hasKey(device.id, row.epoch)) {
      this.refusedNoKey++;
      this.p.store.audit(device.id, 'command-refused', { reason: 'no-recording-key', action: 'segment', camera: cameraId, segment: row.id, epoch: row.epoch });
      throw new CommandRefused('no-recording-key', 'this phone holds no key for that recording (paired after it, or removed before it)');
    }
    // One segment at a time per phone: the next waits for this one's last notice.
    const before = this.#sending.get(device.id) ?? Promise.resolve();
    const sending = before.catch(() => undefined).then(() => this.#send(device.id, String(seq), join(this.p.dataDir, row.path)));
    this.#sending.set(device.id, sending);
    try {
      return await sending;
    } finally {
      if (this.#sending.get(device.id) === sending) this.#sending.delete(device.id);
    }
  };

  /** The file as it is now (a segment still written: up to its last whole chunk), in blob notices. */
  async #send(deviceId: string, blob: string, path: string): Promise<{ blob: string; chunks: number; bytes: number }> {
    let file;
    try {
      file = await open(path, 'r');
    } catch {
      throw new CommandRefused('no-such-segment', 'no such segment (deleted)');
    }
    try {
      const bytes = (await file.stat()).size;
      const chunks = Math.ceil(bytes / SNAPSHOT_CHUNK_BYTES);
      if (chunks > MAX_SEGMENT_CHUNKS) throw new CommandRefused('failed', 'the segment is larger than a phone takes in one answer');
      const buffer = new Uint8Array(SNAPSHOT_CHUNK_BYTES);
      for (let i = 0; i < chunks; i++) {
        const want = Math.min(SNAPSHOT_CHUNK_BYTES, bytes - i * SNAPSHOT_CHUNK_BYTES);
        const { bytesRead } = await file.read(buffer, 0, want, i * SNAPSHOT_CHUNK_BYTES);
        if (bytesRead !== want) throw new CommandRefused('no-such-segment', 'the segment changed while it was read (deleted)');
        this.p.notify(deviceId, { type: 'blob', id: blob, index: i, data: toBase64url(buffer.subarray(0, want)) });
      }
      return { blob, chunks, bytes };
    } finally {
      await file.close();
    }
  }
}
