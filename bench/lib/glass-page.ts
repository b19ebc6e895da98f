// What bench:glass runs inside the phone app's page: after a tap on a camera, every frame the video
// element presents (requestVideoFrameCallback) is drawn to a canvas, the test camera's stamp is read
// from its pixels (test/support/camera/rtsp-camera.py, STAMP: 64 black/white blocks, 48 bits of
// wall-clock ms and a CRC-16) and the frame's age when it reached the screen is kept:
//   glass = performance.timeOrigin + metadata.expectedDisplayTime - stamp
// (the camera and chromium read the same machine clock). expectedDisplayTime, not the callback's
// `now`: the frame is on the glass at the compositor's next frame, not when the callback runs.
// The WebCodecs player draws on #live-canvas instead, in an animation frame, and says so with a
// 'present' event carrying that animation frame's time; the picture is on the glass one display
// frame later (FRAME_MS, chromium's 60 Hz), which is what expectedDisplayTime says for a video:
//   glass = performance.timeOrigin + frameTime + FRAME_MS - stamp
//
// Plain JavaScript in strings: tsx compiles bench code with esbuild's keepNames, which wraps named
// functions in a `__name()` helper the page does not have (see bench/lib/phone-ttff.ts).
import type { StampLayout } from '../../test/support/camera/camera.ts';

/** One presented frame: when (ms since the tap), its age on the glass (ms), the player's lag (s). */
export interface GlassSample {
  since: number;
  glass: number;
  /** Newest buffered media minus the play head, seconds: what the player holds back. */
  behind: number;
  /** The video's playbackRate then. */
  rate: number;
}

export interface TapRecord {
  /** When the tap was, wall-clock ms (the stamps' clock): with a sample, its frame's capture time is tapWall + since - glass. */
  tapWall: number;
  /** Tap to the first presented frame (ms), readable or not. */
  firstPainted: number | undefined;
  samples: GlassSample[];
  /** Frames whose stamp failed its CRC (smeared by the encoder, or a frame without a stamp). */
  unreadable: number;
}

/**
 * Arms the page for the next click on anything: from that click on, every presented frame of
 * #video is read into window.benchRec until window.benchRec.stop is set.
 */
export function armTap(layout: StampLayout): string {
  return `void (() => {
  const L = ${JSON.stringify(layout)};
  const W = L.cols * L.block, H = L.rows * L.block;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const crc16 = (bytes) => {
    let crc = 0xffff;
    for (const b of bytes) {
      crc ^= b << 8;
      for (let i = 0; i < 8; i++) crc = ((crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1)) & 0xffff;
    }
    return crc;
  };
  const FRAME_MS = 1000 / 60;
  // The stamp's time (ms) or undefined: each block's centre (half a block square) averaged, then
  // thresholded at mid-grey; the CRC over the time's 6 bytes must match.
  const read = (source) => {
    ctx.drawImage(source, L.x, L.y, W, H, 0, 0, W, H);
    const px = ctx.getImageData(0, 0, W, H).data;
    const q = L.block / 4;
    let time = 0, crc = 0;
    for (let i = 0; i < 64; i++) {
      const bx = (i % L.cols) * L.block + q, by = Math.floor(i / L.cols) * L.block + q;
      let sum = 0;
      for (let y = by; y < by + 2 * q; y++) for (let x = bx; x < bx + 2 * q; x++) {
        const o = (y * W + x) * 4;
        sum += px[o] + px[o + 1] + px[o + 2];
      }
      const bit = sum / (3 * 4 * q * q) > 128 ? 1 : 0;
      if (i < L.timeBits) time = time * 2 + bit; else crc = crc * 2 + bit;
    }
    const bytes = [];
    for (let k = 5, t = time; k >= 0; k--, t = Math.floor(t / 256)) bytes[k] = t % 256;
    return crc16(bytes) === crc ? time : undefined;
  };
  const rec = { t0: undefined, firstPainted: undefined, samples: [], unreadable: 0, stop: false };
  window.benchRec = rec;
  document.addEventListener('click', () => {
    rec.t0 = performance.now();
    // After the app's own click handler has run: the video has its new MediaSource.
    const c = document.getElementById('live-canvas');
    const onPresent = (ev) => {
      if (rec.stop) {
        c.removeEventListener('present', onPresent);
        return;
      }
      const shown = ev.detail.frameTime + FRAME_MS;
      if (rec.firstPainted === undefined) rec.firstPainted = shown - rec.t0;
      const stamp = read(c);
      if (stamp === undefined) rec.unreadable++;
      else rec.samples.push({ since: shown - rec.t0, glass: performance.timeOrigin + shown - stamp, behind: NaN, rate: 1 });
    };
    if (c !== null) c.addEventListener('present', onPresent);
    setTimeout(() => {
      const v = document.getElementById('video');
      const onFrame = (now, meta) => {
        if (rec.stop) return;
        if (rec.firstPainted === undefined) rec.firstPainted = meta.expectedDisplayTime - rec.t0;
        const stamp = read(v);
        if (stamp === undefined) rec.unreadable++;
        else {
          const b = v.buffered;
          const behind = b.length > 0 ? b.end(b.length - 1) - v.currentTime : NaN;
          rec.samples.push({ since: meta.expectedDisplayTime - rec.t0, glass: performance.timeOrigin + meta.expectedDisplayTime - stamp, behind, rate: v.playbackRate });
        }
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }, 0);
  }, { capture: true, once: true });
})();`;
}

/** Stops recording and returns what was recorded since the tap. */
export const COLLECT = `(() => {
  const r = window.benchRec;
  r.stop = true;
  return JSON.stringify({ tapWall: performance.timeOrigin + r.t0, firstPainted: r.firstPainted, samples: r.samples, unreadable: r.unreadable });
})()`;

/** Whether the first frame after the tap was presented yet. */
export const PAINTED = 'window.benchRec !== undefined && window.benchRec.firstPainted !== undefined';
