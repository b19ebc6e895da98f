// The onvif library reads whole replies into memory and hands them to xml2js. This agent bounds
// what reaches it: each connection may carry at most `maxBytes`, and a reply whose body declares a
// DTD or entities is cut off before it is parsed. Connections are not kept alive, so "per
// connection" is "per request".
//
// The declaration check reads the body as the library will see it: after node:http has removed the
// chunked transfer coding. On the socket, `<!DO` and `CTYPE` can sit in two chunks with a chunk-size
// line between them, so a scan of raw bytes would miss it.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { OnvifError } from './errors.ts';

export const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
/** `<!` followed by a letter: DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION (as discovery/xml.ts). Comments (`<!--`) and CDATA (`<![`) pass. */
const MARKUP_DECLARATION = /<![A-Za-z]/;
/** What may start a declaration at the end of one piece of body and end in the next. */
const OPEN_AT_END = /<!?$/;

/**
 * Watches a body arriving in pieces; true once it carries a markup declaration. Keeps at most two
 * characters between pieces, so the cost is linear in the body.
 */
export function declarationWatch(): (piece: Buffer) => boolean {
  let carry = '';
  return (piece) => {
    // latin1 maps each byte to one character: the pattern is ASCII, and UTF-8 cannot encode `<` or
    // `!` any other way (node decodes overlong forms to U+FFFD).
    const text = carry + piece.toString('latin1');
    if (MARKUP_DECLARATION.test(text)) return true;
    carry = OPEN_AT_END.exec(text.slice(-2))?.[0] ?? '';
    return false;
  };
}

export class BoundedAgent extends http.Agent {
  readonly #maxBytes: number;

  constructor(maxBytes = DEFAULT_MAX_REPLY_BYTES) {
    super({ keepAlive: false, maxSockets: 4 });
    this.#maxBytes = maxBytes;
  }

  override createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex {
    const socket = (http.Agent.prototype as unknown as { createConnection: (...a: unknown[]) => Duplex }).createConnection.apply(this, args);
    let total = 0;
    socket.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > this.#maxBytes) socket.destroy(new OnvifError('too-large', 'onvif reply', `reply over ${this.#maxBytes} bytes; cut off`));
    });
    return socket;
  }

  // Not in node's typings nor its documentation, but node:http calls it once per request (proxy
  // agents rely on it), after the library has added its own 'response' listener: our 'data'
  // listener on the response runs after the library's for each piece, and always before the 'end'
  // on which the library parses. The test in test/main/onvif/hostile.test.ts fails if that changes.
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    req.once('response', (res: http.IncomingMessage) => {
      const declares = declarationWatch();
      res.on('data', (piece: Buffer) => {
        if (!declares(piece)) return;
        const refused = new OnvifError('hostile-reply', 'onvif reply', 'reply carries a DTD or entity declaration; refused');
        // The request reports the error to the library; destroying the response with it too keeps
        // 'end' (and the parse) from happening even when the whole reply had already arrived.
        req.destroy(refused);
        res.destroy(refused);
      });
    });
    (http.Agent.prototype as unknown as { addRequest: (...a: unknown[]) => void }).addRequest.call(this, req, options);
  }
}
