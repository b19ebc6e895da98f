// Crash recovery at start (PROTOCOL §15.6): the index is made true to the files before anything is
// recorded. A segment the hub stopped writing (no final chunk) is kept up to its last whole chunk
// (a half-written tail is cut off) and stays closed = false, its end the last chunk's time; one
// without a single fragment goes. Files without a row and rows without a file go. The hub cannot
// open a segment, so all of this reads the files' structure only (segment-files.ts). No key or
// nonce is at risk: every segment had a fresh key, never used again.
import { existsSync, readdirSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../crypto/bytes.ts';
import type { RecordingIndex } from '../store/recordings.ts';
import { RECORDINGS_DIR, SEGMENT_EXTENSION, scanSegmentFile } from './segment-files.ts';

export interface RecoveryReport {
  /** Unclosed segments kept (cut to their last whole chunk). */
  readonly kept: number;
  /** Segments whose final chunk was there though the row said open. */
  readonly closed: number;
  /** Rows removed: no file, an unreadable file, or no fragment in it. */
  readonly rowsRemoved: number;
  /** Files removed that had no row. */
  readonly filesRemoved: number;
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
}

export function recoverRecordings(dataDir: string, index: Pick<RecordingIndex, 'allSegments' | 'updateSegment' | 'deleteSegment'>): RecoveryReport {
  let kept = 0;
  let closed = 0;
  let rowsRemoved = 0;
  let filesRemoved = 0;
  const known = new Set<string>();
  for (const row of index.allSegments()) {
    const path = join(dataDir, row.path);
    known.add(path);
    if (!existsSync(path)) {
      index.deleteSegment(row.id);
      rowsRemoved++;
      continue;
    }
    if (row.closed) {
      // Keep the size true to the file (a closed file is never appended to again).
      const size = statSync(path).size;
      if (size !== row.bytes) index.updateSegment(row.id, { endMs: row.endMs, bytes: size, closed: true });
      continue;
    }
    let scan;
    try {
      scan = scanSegmentFile(path);
    } catch {
      scan = undefined;
    }
    const matches = scan !== undefined && scan.header.segmentId === BigInt(row.id) && toHex(scan.header.cameraId) === row.cameraId && scan.header.epoch === row.epoch;
    // Chunk 0 is the init segment: without one fragment after it there is nothing to play.
    if (scan === undefined || !matches || scan.chunks < 2) {
      removeFile(path);
      index.deleteSegment(row.id);
      rowsRemoved++;
      continue;
    }
    if (scan.goodBytes < scan.fileBytes) truncateSync(path, scan.goodBytes);
    index.updateSegment(row.id, { endMs: scan.lastTime, bytes: scan.goodBytes, closed: scan.final });
    if (scan.final) closed++;
    else kept++;
  }
  const root = join(dataDir, RECORDINGS_DIR);
  if (existsSync(root)) {
    for (const camera of readdirSync(root, { withFileTypes: true })) {
      if (!camera.isDirectory()) continue;
      for (const f of readdirSync(join(root, camera.name), { withFileTypes: true })) {
        const path = join(root, camera.name, f.name);
        // Only files that look like ours: anything else in there is not the recorder's to delete.
        if (f.isFile() && f.name.endsWith(SEGMENT_EXTENSION) && !known.has(path)) {
          removeFile(path);
          filesRemoved++;
        }
      }
    }
  }
  return { kept, closed, rowsRemoved, filesRemoved };
}
