// Recorded segments as the hub writes them (crypto/recording.ts SegmentWriter) holding fMP4 boxes
// with decode times, for the clip tests (crypto/clip-proof.ts, phone/core/clip-file.ts).
import { concat } from '../../crypto/bytes.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { SegmentWriter, type RecordingEpoch } from '../../crypto/recording.ts';
import { fragment, initSegment } from '../phone/core/fmp4-boxes.ts';

export const VIDEO = 90_000;
export const AUDIO = 48_000;
export const INIT = initSegment([[1, VIDEO], [2, AUDIO]]);

function mdat(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(8 + size).map((_, j) => (seed * 37 + j * 11) & 0xff);
  new DataView(out.buffer).setUint32(0, 8 + size);
  out.set([0x6d, 0x64, 0x61, 0x74], 4);
  return out;
}

/** A fragment starting `seconds` into the camera run, both tracks, with `size` bytes of media of its own. */
export function mediaAt(seconds: number, seed: number, size = 200): Uint8Array {
  return concat(fragment([[1, Math.round(seconds * VIDEO)], [2, Math.round(seconds * AUDIO)]]), mdat(seed, size));
}

export interface SegmentSpec {
  readonly id: bigint;
  /** Unix ms of the first chunk. */
  readonly start: number;
  /** Decode time (s into the camera run) of the first fragment. */
  readonly runTime: number;
  readonly fragments?: number;
  readonly init?: Uint8Array;
  readonly close?: boolean;
  /** Media bytes per fragment (beyond its boxes). */
  readonly mediaBytes?: number;
}

/** A segment's file bytes: an init chunk, then fragments 0.3 s apart, then (by default) the final chunk. */
export function recordSegment(hub: HubIdentity, epoch: RecordingEpoch, cameraId: Uint8Array, s: SegmentSpec): Uint8Array {
  const w = new SegmentWriter(hub, epoch, { cameraId, segmentId: s.id, start: s.start });
  const n = s.fragments ?? 3;
  const parts = [w.headerBytes, w.chunk('init', s.start, s.init ?? INIT)];
  for (let i = 0; i < n; i++) parts.push(w.chunk('media', s.start + i * 300, mediaAt(s.runTime + i * 0.3, Number(s.id) * 10 + i, s.mediaBytes)));
  if (s.close !== false) parts.push(w.close(s.start + n * 300).bytes);
  return concat(...parts);
}
