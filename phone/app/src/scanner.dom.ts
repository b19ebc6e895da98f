// Scans the hub's QR with the phone's camera: getUserMedia (secure contexts only) and jsQR on
// frames drawn to a canvas. Whatever the QR holds is untrusted until parseInviteLink accepts it.
import jsQR from 'jsqr';

export interface Scanner {
  stop(): void;
}

/** Longest text we hand on: the invite parser has its own bound, this one spares the work. */
const MAX_QR_TEXT = 2000;
/** Scan a downscaled frame: jsQR's cost grows with pixels, and a QR fills much of the view. */
const SCAN_WIDTH = 640;

export async function startScanner(video: HTMLVideoElement, onText: (text: string) => boolean, onError: (message: string) => void): Promise<Scanner> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('this browser gives no camera here (the page must be HTTPS or localhost): paste the pairing link instead');
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play().catch(() => undefined);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  };
  const tick = () => {
    if (stopped) return;
    try {
      if (ctx && video.videoWidth > 0) {
        const scale = Math.min(1, SCAN_WIDTH / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
        if (code && code.data.length > 0 && code.data.length <= MAX_QR_TEXT && onText(code.data)) {
          stop();
          return;
        }
      }
    } catch (e) {
      onError(e instanceof Error ? e.message : String(e));
    }
    timer = setTimeout(tick, 150);
  };
  tick();
  return { stop };
}
