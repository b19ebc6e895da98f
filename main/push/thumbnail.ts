// A push carries at most MAX_PUSH_THUMBNAIL_BYTES of picture (about 1.5 kB: the whole push is 2.9 kB).
// An event's preview is usually bigger, so ffmpeg makes a smaller one: narrower and coarser each
// try until it fits. Bounded: four tries, each with a time limit and a capped output.
import { spawn } from 'node:child_process';

const TRIES: readonly { width: number; q: number }[] = [{ width: 128, q: 12 }, { width: 112, q: 20 }, { width: 96, q: 28 }, { width: 80, q: 31 }];
const TIMEOUT_MS = 3000;

function once(ffmpeg: string, jpeg: Uint8Array, width: number, q: number, maxBytes: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0',
      '-vf', `scale=${width}:-2`, '-frames:v', '1', '-q:v', String(q), '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const done = (r: Uint8Array | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > maxBytes * 4) done(undefined);
      else parts.push(b);
    });
    child.on('error', () => done(undefined));
    child.on('close', (code) => done(code === 0 && bytes > 0 ? new Uint8Array(Buffer.concat(parts)) : undefined));
    child.stdin.on('error', () => undefined);
    child.stdin.end(jpeg);
  });
}

/** A JPEG of at most maxBytes made from `jpeg`, or undefined if none of the tries fits. */
export async function shrinkJpeg(ffmpeg: string, jpeg: Uint8Array, maxBytes: number): Promise<Uint8Array | undefined> {
  for (const t of TRIES) {
    const out = await once(ffmpeg, jpeg, t.width, t.q, maxBytes);
    if (out !== undefined && out.length <= maxBytes) return out;
  }
  return undefined;
}
