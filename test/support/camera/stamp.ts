// Reading the time the test camera stamps into its pictures (rtsp-camera.py --stamp, STAMP): a
// grid of black/white blocks, the time's bits then a CRC-16/CCITT of its six bytes. Used by tests
// and benches that decode the camera's pictures themselves (the phone app reads it in the page:
// bench/lib/glass-page.ts).
import type { StampLayout } from './camera.ts';

/** CRC-16/CCITT-FALSE, as rtsp-camera.py computes it. */
function crc16(bytes: readonly number[]): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = ((crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) : (crc << 1)) & 0xffff;
  }
  return crc;
}

/** The stamp's time (ms) in a grey (luma) picture `width` pixels wide, or undefined when its CRC fails. */
export function readStamp(grey: Uint8Array, width: number, L: StampLayout): number | undefined {
  let time = 0;
  let crc = 0;
  const q = Math.floor(L.block / 4);
  for (let i = 0; i < L.cols * L.rows; i++) {
    const bx = L.x + (i % L.cols) * L.block + q;
    const by = L.y + Math.floor(i / L.cols) * L.block + q;
    let sum = 0;
    for (let y = by; y < by + 2 * q; y++) for (let x = bx; x < bx + 2 * q; x++) sum += grey[y * width + x]!;
    const bit = sum / (4 * q * q) > 126 ? 1 : 0;
    if (i < L.timeBits) time = time * 2 + bit;
    else crc = crc * 2 + bit;
  }
  const bytes: number[] = [];
  for (let i = 5; i >= 0; i--) bytes.push(Math.floor(time / 2 ** (8 * i)) % 256);
  return crc16(bytes) === crc ? time : undefined;
}
