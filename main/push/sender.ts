// One push request (RFC 8030 §5): the web-push package encrypts the payload (RFC 8291, aes128gcm)
// and signs the VAPID header (RFC 8292); the request itself is sent here, so that the hub decides
// where it connects (endpoint.ts: public addresses only, the checked address is the one dialled)
// and how long it waits (a bounded time for the whole exchange, a bounded answer read and dropped).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import webpush from 'web-push';
import { toBase64url } from '../../crypto/bytes.ts';
import type { VapidKeys } from './vapid.ts';
import { checkEndpoint, guardedLookup, type EndpointPolicy } from './endpoint.ts';

export interface PushTarget {
  readonly endpoint: string;
  readonly p256dh: Uint8Array;
  readonly auth: Uint8Array;
}

export interface SendOptions {
  /** RFC 8030 TTL: how long the push service may hold it for a phone that is off. */
  readonly ttlSeconds: number;
  readonly urgency: 'very-low' | 'low' | 'normal' | 'high';
  /** The whole request, connect to answer. */
  readonly timeoutMs: number;
}

/** What the push service said: its HTTP status, or that it could not be reached. */
export type SendResult = { readonly status: number } | { readonly error: string };

/** The most of an answer read (and dropped): push services answer 201 with nothing. */
const MAX_ANSWER_BYTES = 8 * 1024;

export class PushSender {
  constructor(
    private readonly vapid: VapidKeys,
    private readonly subject: string,
    private readonly policy: EndpointPolicy,
  ) {}

  send(target: PushTarget, payload: Uint8Array, o: SendOptions): Promise<SendResult> {
    let url: URL;
    let details: webpush.RequestDetails;
    try {
      url = checkEndpoint(target.endpoint, this.policy);
      details = webpush.generateRequestDetails(
        { endpoint: target.endpoint, keys: { p256dh: toBase64url(target.p256dh), auth: toBase64url(target.auth) } },
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        {
          vapidDetails: { subject: this.subject, publicKey: toBase64url(this.vapid.publicKey), privateKey: toBase64url(this.vapid.privateKey.expose()) },
          TTL: o.ttlSeconds,
          urgency: o.urgency,
          contentEncoding: 'aes128gcm',
        },
      );
    } catch (e) {
      return Promise.resolve({ error: e instanceof Error ? e.name === 'EndpointRefused' ? e.message : 'cannot encrypt the push' : 'cannot encrypt the push' });
    }
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (r: SendResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(details.headers)) headers[k] = String(v);
      const req = request(url, { method: 'POST', headers, lookup: guardedLookup(this.policy), agent: false }, (res: IncomingMessage) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('end', () => done({ status: res.statusCode ?? 0 }));
        res.on('close', () => done({ status: res.statusCode ?? 0 }));
        res.on('error', () => done({ status: res.statusCode ?? 0 }));
      });
      const timer = setTimeout(() => {
        req.destroy();
        done({ error: `no answer in ${o.timeoutMs} ms` });
      }, o.timeoutMs);
      // The error's message may hold the host, never the endpoint's path (its token).
      req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? 'request failed' }));
      req.end(details.body);
    });
  }
}
