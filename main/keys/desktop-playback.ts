// Recordings played in the desktop app's own process (issue 16, THREAT-MODEL T13): the desktop viewer
// opens segments exactly as a phone does, with the phone's own code (phone/core/recordings.ts:
// PhoneRecordings, writeClip and the ClipAssembler behind it), not a copy. What differs is only the
// link: a phone asks the hub over a session; here the same three answers come from the hub's store
// and disk directly (`recording-keys`: the viewer's own sealed seeds; `recordings`: the index;
// `segment`: the file's bytes as they are, still ciphertext). So a damaged segment is found and said
// in the same words as `vigil-phone play` says it, one line each.
//
// The only file of main/ that imports phone code (eslint.config.js names it). Nothing it opens is
// written to disk: the MP4 is returned in memory.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { toBase64url, toHex } from '../../crypto/bytes.ts';
import { hubPublicKeys, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { MAX_SEGMENTS_LISTED, type ArgsOf, type ResultOf, type SegmentInfo } from '../../crypto/phone-commands.ts';
import { CommandError } from '../../phone/core/link/api.ts';
import { PhoneRecordings, writeClip, type ClipOutcome, type RecordingsLink } from '../../phone/core/recordings.ts';
import { nodeFrameAead } from '../node-aead.ts';
import { MAX_KEYS_PER_ANSWER, mergeRanges } from '../phones/commands/recordings.ts';
import type { RecordingIndex } from '../store/recordings.ts';

/** A segment closes at 64 MiB (PROTOCOL §15.3); a file much larger is not one to read whole. */
const MAX_SEGMENT_FILE_BYTES = 80 * 1024 * 1024;

export type PlaybackIndex = Pick<RecordingIndex, 'keysFor' | 'hasKey' | 'segment' | 'segmentsIn' | 'timesIn' | 'settings'>;

/** The hub's answers to the viewer, from its own store and disk (what RecordingCommands answers a phone). */
class LocalRecordingsLink implements RecordingsLink {
  /** Segment files read (the test checks that a refused play reads none). */
  reads = 0;

  constructor(private readonly index: PlaybackIndex, private readonly dataDir: string, private readonly deviceId: string) {}

  command(action: 'recording-keys', args: ArgsOf<'recording-keys'>): Promise<ResultOf<'recording-keys'>>;
  command(action: 'recordings', args: ArgsOf<'recordings'>): Promise<ResultOf<'recordings'>>;
  async command(action: 'recording-keys' | 'recordings', args: ArgsOf<'recording-keys'> | ArgsOf<'recordings'>): Promise<ResultOf<'recording-keys'> | ResultOf<'recordings'>> {
    if (action === 'recording-keys') {
      const since = (args as ArgsOf<'recording-keys'>).since ?? 0;
      return { keys: this.index.keysFor(this.deviceId, since, MAX_KEYS_PER_ANSWER).map((k) => ({ epoch: toBase64url(k.epoch.epoch), sealed: toBase64url(k.sealed) })) };
    }
    const a = args as ArgsOf<'recordings'>;
    const to = a.to ?? Date.now();
    const from = a.from ?? to;
    const segments: SegmentInfo[] = this.index.segmentsIn(a.camera, from, to, MAX_SEGMENTS_LISTED)
      .map((s) => ({ id: String(s.id), epoch: s.epoch, start: s.startMs, end: s.endMs, bytes: s.bytes, closed: s.closed }));
    return { ranges: mergeRanges(this.index.timesIn(a.camera, from, to)), segments, mode: this.index.settings(a.camera).mode };
  }

  /** The file as it is now, refused as the hub refuses a phone: another camera's, deleted, or no key of its epoch. */
  async segment(cameraId: string, id: string): Promise<Uint8Array> {
    const n = Number(id);
    const row = Number.isSafeInteger(n) ? this.index.segment(n) : undefined;
    if (row === undefined || row.cameraId !== cameraId) throw new CommandError('no such segment (deleted, or another camera\'s)', 'no-such-segment');
    if (!this.index.hasKey(this.deviceId, row.epoch)) throw new CommandError('the desktop viewer holds no key for that recording', 'no-recording-key');
    let file;
    try {
      file = await open(join(this.dataDir, row.path), 'r');
    } catch {
      throw new CommandError('no such segment (its file is gone)', 'no-such-segment');
    }
    try {
      const size = (await file.stat()).size;
      if (size > MAX_SEGMENT_FILE_BYTES) throw new CommandError('the segment file is larger than any segment the hub writes', 'failed');
      const bytes = new Uint8Array(size);
      const { bytesRead } = await file.read(bytes, 0, size, 0);
      this.reads++;
      return bytes.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }
}

export interface PlayedRange {
  readonly outcome: ClipOutcome;
  /** The MP4, in pieces, in memory. */
  readonly parts: readonly Uint8Array[];
  /** One line per segment left out or played in part. */
  readonly lines: readonly string[];
  /** Segments of an epoch the viewer holds no key of. */
  readonly noKey: number;
}

export interface PlayParts {
  readonly viewer: DeviceIdentity;
  readonly identity: HubIdentity;
  readonly index: PlaybackIndex;
  readonly dataDir: string;
  /** Called with each piece's length before it is kept: throws to stop (a size limit). */
  readonly budget: (bytes: number) => void;
}

/** Opens a camera's segments over [from, to) with the viewer's keys, as `vigil-phone play` does, into one MP4 in memory. */
export async function playRange(p: PlayParts, cameraId: string, from: number, to: number): Promise<PlayedRange> {
  const link = new LocalRecordingsLink(p.index, p.dataDir, toHex(p.viewer.deviceId));
  // OpenSSL opens the same bytes as the phones' libsodium, about 3x faster (main/node-aead.ts).
  const recs = new PhoneRecordings(link, { hub: hubPublicKeys(p.identity), device: p.viewer }, { aead: nodeFrameAead });
  const parts: Uint8Array[] = [];
  const lines: string[] = [];
  try {
    await recs.refreshKeys();
    for (const why of recs.refusedKeys) lines.push(`recording key refused: ${why}`);
    const outcome = await writeClip(recs, cameraId, from, to, {
      evidence: false,
      write: (b) => {
        p.budget(b.length);
        parts.push(Uint8Array.from(b));
      },
      say: (line) => lines.push(line),
    });
    return { outcome, parts, lines, noKey: recs.counters.noKey };
  } finally {
    recs.close();
  }
}
