// Segment files on the hub's disk: DATA/recordings/<cameraId>/<segmentId>.vseg (directories 0700,
// files 0600), appended with plain fs writes. The hub cannot decrypt a segment, so what it checks of
// a file is its structure only (crypto/recording.ts): the header, then chunks of
// u32 length || u8 kind || u64 time || ciphertext, up to the last whole one.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { MAX_CHUNK_BYTES, SEGMENT_HEADER_BYTES, readSegmentHeader, type SegmentHeader } from '../../crypto/recording.ts';

export const RECORDINGS_DIR = 'recordings';
export const SEGMENT_EXTENSION = '.vseg';
const CHUNK_HEAD_BYTES = 13;
const TAG_BYTES = 16;
const KIND_FINAL = 3;

/** The file's path relative to the data directory (as the index stores it). */
export function segmentPath(cameraId: string, id: number): string {
  return join(RECORDINGS_DIR, cameraId, `${id}${SEGMENT_EXTENSION}`);
}

/** How the recorder writes: the real file system by default; tests inject full disks. */
export interface SegmentFileSystem {
  /** Creates the file (never an existing one), mode 0600, its directory 0700. */
  create(path: string): number;
  append(fd: number, bytes: Uint8Array): void;
  /** Cuts a half-written tail off (needs no free space). */
  truncate(fd: number, length: number): void;
  close(fd: number): void;
}

export const realSegmentFiles: SegmentFileSystem = {
  create(path) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600);
  },
  append(fd, bytes) {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  },
  truncate(fd, length) {
    ftruncateSync(fd, length);
  },
  close(fd) {
    closeSync(fd);
  },
};

export interface ScannedSegment {
  readonly header: SegmentHeader;
  /** Whole chunks before any final chunk. */
  readonly chunks: number;
  /** The time of the last whole chunk (the final chunk's, when there is one); the start if none. */
  readonly lastTime: number;
  /** Bytes up to the end of the last whole chunk: what to keep. */
  readonly goodBytes: number;
  readonly fileBytes: number;
  /** The final chunk is there (the segment was closed). */
  readonly final: boolean;
}

/**
 * Reads a segment file's structure without its keys: the header and each chunk's length fields, up
 * to the last whole chunk. Reads 13 bytes per chunk, not the chunks. Throws if it is not a segment.
 */
export function scanSegmentFile(path: string): ScannedSegment {
  const fd = openSync(path, 'r');
  try {
    const fileBytes = fstatSync(fd).size;
    const headerBytes = new Uint8Array(SEGMENT_HEADER_BYTES);
    if (readSync(fd, headerBytes, 0, SEGMENT_HEADER_BYTES, 0) !== SEGMENT_HEADER_BYTES) throw new Error('shorter than a segment header');
    const header = readSegmentHeader(headerBytes);
    const head = new Uint8Array(CHUNK_HEAD_BYTES);
    const view = new DataView(head.buffer);
    let offset = SEGMENT_HEADER_BYTES;
    let chunks = 0;
    let lastTime = header.start;
    let final = false;
    while (fileBytes - offset >= CHUNK_HEAD_BYTES) {
      if (readSync(fd, head, 0, CHUNK_HEAD_BYTES, offset) !== CHUNK_HEAD_BYTES) break;
      const length = view.getUint32(0);
      const kind = view.getUint8(4);
      const time = Number(view.getBigUint64(5));
      if (kind < 1 || kind > KIND_FINAL || length < TAG_BYTES || length > MAX_CHUNK_BYTES + TAG_BYTES) break;
      if (fileBytes - offset - CHUNK_HEAD_BYTES < length) break;
      offset += CHUNK_HEAD_BYTES + length;
      lastTime = time;
      if (kind === KIND_FINAL) {
        final = true;
        break;
      }
      chunks++;
    }
    return { header, chunks, lastTime, goodBytes: offset, fileBytes, final };
  } finally {
    closeSync(fd);
  }
}
