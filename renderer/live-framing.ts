// The framing of a live stream from the UI server (main/ui/live-stream.ts writes it): a sequence of
// messages `type(1) || length(4, big-endian) || payload`. Type 1 is an init segment, whose payload
// is `mime(utf-8) || 0x0a || init segment`; type 2 is a media fragment. A new init segment means
// the camera restarted: the player starts over. Pure code, shared by both ends.

export const LIVE_INIT = 1;
export const LIVE_FRAGMENT = 2;
export const LIVE_HEADER_BYTES = 5;
/** A fragment bigger than this is a bug or an attack, not video: the reader stops. */
export const MAX_LIVE_MESSAGE_BYTES = 32 * 1024 * 1024;
const MAX_MIME_BYTES = 256;

export function encodeLiveMessage(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(LIVE_HEADER_BYTES + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, LIVE_HEADER_BYTES);
  return out;
}

export function encodeLiveInit(mime: string, init: Uint8Array): Uint8Array {
  const m = new TextEncoder().encode(mime);
  const payload = new Uint8Array(m.length + 1 + init.length);
  payload.set(m);
  payload[m.length] = 0x0a;
  payload.set(init, m.length + 1);
  return encodeLiveMessage(LIVE_INIT, payload);
}

export interface LiveFrameEvents {
  onInit(mime: string, init: Uint8Array): void;
  onData(fragment: Uint8Array): void;
}

export class LiveFrameReader {
  #buf = new Uint8Array(0);

  constructor(private readonly events: LiveFrameEvents) {}

  push(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    let at = 0;
    while (joined.length - at >= LIVE_HEADER_BYTES) {
      const type = joined[at]!;
      const len = new DataView(joined.buffer, joined.byteOffset + at + 1, 4).getUint32(0);
      if (len > MAX_LIVE_MESSAGE_BYTES) throw new Error(`live stream: message of ${len} bytes is over the limit`);
      if (joined.length - at - LIVE_HEADER_BYTES < len) break;
      const payload = joined.slice(at + LIVE_HEADER_BYTES, at + LIVE_HEADER_BYTES + len);
      at += LIVE_HEADER_BYTES + len;
      if (type === LIVE_INIT) {
        const nl = payload.indexOf(0x0a);
        if (nl < 0 || nl > MAX_MIME_BYTES) throw new Error('live stream: init message without a MIME type');
        this.events.onInit(new TextDecoder().decode(payload.subarray(0, nl)), payload.slice(nl + 1));
      } else if (type === LIVE_FRAGMENT) {
        this.events.onData(payload);
      } else {
        throw new Error(`live stream: unknown message type ${type}`);
      }
    }
    this.#buf = joined.slice(at);
  }
}
