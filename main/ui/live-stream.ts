// Live tiles for the hub's own UI: one long HTTP response per tile, carrying the camera's plaintext
// fMP4 (init segment, the GOP so far, then every fragment) in a small framing. Plaintext is fine
// here: the hub is the root of trust, this runs in its process, and the local API port answers only
// requests with the token (on loopback unless the owner asked otherwise).
//
// The framing is renderer/live-framing.ts's (which reads it): `type(1) || length(4, BE) || payload`;
// type 1 = init (`mime || 0x0a || init segment`), type 2 = fragment. main/ may not import renderer/,
// so the writer is here; test/ui/live-framing.test.ts checks both ends agree.
import type { ServerResponse } from 'node:http';
import type { LocalViewer } from '../media/local-viewers.ts';

export const LIVE_INIT = 1;
export const LIVE_FRAGMENT = 2;
/** A viewer further behind than this (bytes queued in the socket) skips to the next keyframe. */
export const MAX_LIVE_BACKLOG_BYTES = 4 * 1024 * 1024;

export function liveMessage(type: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export function liveInitMessage(mime: string, init: Uint8Array): Buffer {
  return liveMessage(LIVE_INIT, Buffer.concat([Buffer.from(mime, 'utf8'), Buffer.of(0x0a), init]));
}

/** A LocalViewer writing to one HTTP response, dropping to the next keyframe when the client lags. */
export function httpLiveViewer(res: ServerResponse, onEnd: () => void): LocalViewer {
  let haveInit = false;
  let skipping = false;
  return {
    onInit(data, mime) {
      haveInit = true;
      skipping = false;
      res.write(liveInitMessage(mime, data));
    },
    onFragment(data, keyframe) {
      if (!haveInit) return;
      if (res.writableLength > MAX_LIVE_BACKLOG_BYTES) skipping = true;
      if (skipping && !(keyframe && res.writableLength < MAX_LIVE_BACKLOG_BYTES / 2)) return;
      skipping = false;
      res.write(liveMessage(LIVE_FRAGMENT, data));
    },
    onEnd() {
      res.end();
      onEnd();
    },
  };
}
