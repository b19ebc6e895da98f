// The onvif library reads whole replies into memory and hands them to xml2js. This agent bounds
// what reaches it: each connection may carry at most `maxBytes`, and a reply that declares a DTD
// or entities is cut off before it is parsed. Connections are not kept alive, so "per connection"
// is "per request".
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { OnvifError } from './errors.ts';

export const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
const DECLARATION = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i;

export class BoundedAgent extends http.Agent {
  readonly #maxBytes: number;

  constructor(maxBytes = DEFAULT_MAX_REPLY_BYTES) {
    super({ keepAlive: false, maxSockets: 4 });
    this.#maxBytes = maxBytes;
  }

  override createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex {
    const socket = (http.Agent.prototype as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection.apply(this, args);
    let total = 0;
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > this.#maxBytes) {
        socket.destroy(new OnvifError('too-large', 'onvif reply', `reply over ${this.#maxBytes} bytes; cut off`));
        return;
      }
      const text = tail + chunk.toString('latin1');
      if (DECLARATION.test(text)) {
        socket.destroy(new OnvifError('hostile-reply', 'onvif reply', 'reply carries a DTD or entity declaration; refused'));
        return;
      }
      tail = text.slice(-16);
    });
    return socket;
  }
}
