// Paced reading, for any socket the hub reads media from (ffmpeg's output, a camera's RTSP
// connection). With one fragment per frame, reading each camera as it comes wakes the hub once per
// frame per camera (8 cameras at 15 fps: 120 times a second), and each wake-up costs more than the
// remux of the frame. Media nobody needs at once (no phone watches the camera) can be paced
// instead: its socket is left unread and every paced socket is read together, in one event-loop
// turn, every PACE_MS. The data are the same, only later (at most PACE_MS, the kernel's socket
// buffer holding them meanwhile); a watched camera is read as it comes.
import type net from 'node:net';

/**
 * How often paced sockets are read. Their fragments reach the recorder and the motion detector up
 * to this much later; 250 ms holds about 4 fragments of a 15 fps camera, and at 4 Mbit/s about
 * 125 kB, within the kernel's default socket buffer (the sender waits, loses nothing, if it fills).
 */
export const PACE_MS = 250;

/** Sockets read only on the pacing tick, and the one timer for all of them. */
const paced = new Set<net.Socket>();
let paceTimer: ReturnType<typeof setInterval> | undefined;

function paceTick(): void {
  // Reading starts here (timers phase), the poll phase of this same loop iteration reads every
  // socket that has data, and the check phase stops them again.
  for (const socket of paced) socket.resume();
  setImmediate(() => {
    for (const socket of paced) socket.pause();
  });
}

/** Paced (true): read on the shared tick only; false: read as it comes. Idempotent. */
export function setPaced(socket: net.Socket, on: boolean): void {
  if (on && !socket.destroyed) {
    paced.add(socket);
    socket.pause();
    if (paceTimer === undefined) {
      paceTimer = setInterval(paceTick, PACE_MS);
      paceTimer.unref();
    }
  } else {
    if (paced.delete(socket)) socket.resume();
    if (paced.size === 0 && paceTimer !== undefined) {
      clearInterval(paceTimer);
      paceTimer = undefined;
    }
  }
}

export function isPaced(socket: net.Socket): boolean {
  return paced.has(socket);
}
