// The hub's connections to relays: the cloud relay(s) for phones away from home, and its own LAN
// endpoint (the same relay protocol, served by the hub) for phones at home. Every link is equally
// untrusted: the same capabilities are granted on each, frames go to a link only while a phone
// watches there, and a reply goes back on the link the phone's message came in on.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { sign, type HubIdentity } from '../crypto/identity.ts';
import { RelayClient, type RelayFailure, type WebSocketConstructor } from '../relay/client.ts';
import { PUBLISH_HEADER_BYTES, writePublishHeader, type Capability } from '../relay/codec.ts';
import { bytesToHex, hexToBytes } from './hex.ts';

export type LinkKind = 'relay' | 'lan';

/**
 * TCP sockets to relays holding what this event-loop turn sent: uncorked together once the turn's
 * I/O callbacks have run (setImmediate), so every message sent in one turn, from any camera, leaves
 * in one write (writev) per relay instead of one write per message. The bytes on the wire are the
 * same (each message is still its own WebSocket frame); only the system calls are fewer.
 */
const corked = new Set<Socket>();
let uncorkPending = false;

function uncorkAll(): void {
  uncorkPending = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/**
 * ws with compression off: ciphertext does not compress, and only without it does ws frame (and
 * mask) a message inside send(), which is what lets the hub reuse its send buffer right after.
 * Its sends are corked until the end of the turn (see `corked`).
 */
class HubWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }

  override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
    // ws keeps the net.Socket as _socket (not in its types); it corks and uncorks around a frame
    // itself, which nests inside this (a socket writes when its cork count is back to 0).
    const socket = (this as unknown as { _socket?: Socket })._socket;
    if (socket !== undefined && this.readyState === WebSocket.OPEN && !corked.has(socket)) {
      socket.cork();
      corked.add(socket);
      if (!uncorkPending) {
        uncorkPending = true;
        setImmediate(uncorkAll);
      }
    }
    (super.send as (...args: unknown[]) => void).call(this, data, ...rest);
  }
}

/** First size of the send buffer; it grows to the largest fragment seen (a keyframe). */
const SEND_BUFFER_BYTES = 64 * 1024;

export interface Link {
  readonly kind: LinkKind;
  readonly url: string;
  readonly client: RelayClient;
  state: string;
  /** Why the link is not up (or its last connection ended); undefined while logged in. */
  readonly failure: RelayFailure | undefined;
  readonly watchers: Map<string, number>;
  send(to: Uint8Array, payload: Uint8Array): Promise<void>;
}

export interface LinkEvents {
  onMessage(from: Uint8Array, payload: Uint8Array, via: Link): void;
  onMailboxMessage(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array, via: Link): void;
  onReady(via: Link): void;
  onState(via: Link, state: string): void;
  /** A topic's watchers on a link changed (hex topic, the new count there). */
  onWatchers?(topic: string, count: number, via: Link): void;
  /** Once per change of reason while a link cannot connect (RelayClient onFailure). */
  onFailure?(via: Link, failure: RelayFailure): void;
  onError?(error: unknown): void;
}

export class HubLinks {
  readonly #links: Link[] = [];
  /** Standing state to bring to a link added later (the LAN endpoint restarting). */
  readonly #grants = new Map<string, Capability>();

  constructor(
    private readonly identity: HubIdentity,
    private readonly events: LinkEvents,
  ) {}

  get all(): readonly Link[] {
    return this.#links;
  }

  find(kind: LinkKind): Link | undefined {
    return this.#links.find((l) => l.kind === kind);
  }

  /**
   * One link per kind: a relay link is one connection that moves between the given relay URLs
   * (nodes of one relay cluster, or fallbacks), never several at once, since a relay id has one
   * connection per cluster.
   */
  add(kind: LinkKind, urls: string | readonly string[]): Link {
    const list = typeof urls === 'string' ? [urls] : [...urls];
    const watchers = new Map<string, number>();
    // eslint-disable-next-line prefer-const
    let link: Link;
    const client = new RelayClient({
      urls: list,
      publicKey: this.identity.relay.publicKey,
      sign: (m) => sign(this.identity.relay, m),
      WebSocket: HubWebSocket as unknown as WebSocketConstructor,
      ...(kind === 'lan' ? { backoffMs: [250, 500, 1000] } : {}),
      // Whatever a relay sends must never take the hub down: a handler's failure is logged, not thrown.
      onMessage: (from, payload) => this.#guard(() => this.events.onMessage(from, payload, link)),
      onMailboxMessage: (id, from, payload) => this.#guard(() => this.events.onMailboxMessage(id, from, payload, link)),
      // An oversized fragment is refused by the client (the relay would drop the whole link): say so.
      onError: (e) => {
        if (e.code === 'too-large') this.events.onError?.(e);
      },
      onWatchers: (topic, count) => {
        const hex = bytesToHex(topic);
        if (count > 0) watchers.set(hex, count);
        else watchers.delete(hex);
        this.#guard(() => this.events.onWatchers?.(hex, count, link));
      },
      onFailure: (f) => this.events.onFailure?.(link, f),
      onStateChange: (s) => {
        link.state = s;
        if (s !== 'ready') watchers.clear();
        this.events.onState(link, s);
        if (s === 'ready') this.events.onReady(link);
      },
    });
    link = {
      kind, client, state: 'connecting', watchers,
      get url() {
        return client.url;
      },
      get failure() {
        return client.failure;
      },
      send: (to, payload) => client.send(to, payload),
    };
    for (const cap of this.#grants.values()) void client.grant(cap).catch(() => undefined);
    this.#links.push(link);
    return link;
  }

  #guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.events.onError?.(e);
    }
  }

  async remove(link: Link): Promise<void> {
    const i = this.#links.indexOf(link);
    if (i >= 0) this.#links.splice(i, 1);
    await link.client.close();
  }

  async grant(cap: Capability): Promise<void> {
    this.#grants.set(bytesToHex(cap.deviceRelayId), cap);
    await Promise.all(this.#links.map((l) => l.client.grant(cap).catch(() => undefined)));
  }

  async revoke(deviceRelayId: Uint8Array): Promise<void> {
    this.#grants.delete(bytesToHex(deviceRelayId));
    await Promise.all(this.#links.map((l) => l.client.revoke(deviceRelayId).catch(() => undefined)));
  }

  async openMailbox(id: Uint8Array, expiresAt: number): Promise<void> {
    if (this.#links.length === 0) throw new Error('this hub has neither a relay nor a LAN endpoint: start it with --relay URL or --lan HOST:PORT');
    await Promise.all(this.#links.map((l) => l.client.openMailbox(id, expiresAt).catch(() => undefined)));
  }

  async closeMailbox(id: Uint8Array): Promise<void> {
    await Promise.all(this.#links.map((l) => l.client.closeMailbox(id).catch(() => undefined)));
  }

  watchers(topic: string): number {
    let n = 0;
    for (const l of this.#links) n += l.watchers.get(topic) ?? 0;
    return n;
  }

  /**
   * One buffer for every publish message: each fragment is sealed straight into it behind the
   * publish header, and every link's socket copies it out before the next. A new array per
   * fragment (and another for the message around it) was most of what publishing cost: fresh
   * memory is a page fault per 4 KiB the first time it is written (docs/PERFORMANCE.md).
   */
  #sendBuffer = new Uint8Array(SEND_BUFFER_BYTES);

  /** Room for a payload of `size` bytes in the send buffer, valid until the next call. */
  payloadRoom(size: number): Uint8Array {
    const need = PUBLISH_HEADER_BYTES + size;
    if (this.#sendBuffer.length < need) this.#sendBuffer = new Uint8Array(Math.max(need, 2 * this.#sendBuffer.length));
    return this.#sendBuffer.subarray(PUBLISH_HEADER_BYTES, need);
  }

  /**
   * Publishes on every link where someone watches this topic (hex, as the store keeps it). The
   * payload is best the view payloadRoom() gave (no copy); any other is copied into the buffer.
   */
  publish(topic: string, flags: number, payload: Uint8Array): void {
    const inPlace = payload.buffer === this.#sendBuffer.buffer && payload.byteOffset === PUBLISH_HEADER_BYTES;
    if (!inPlace) this.payloadRoom(payload.length).set(payload);
    const message = this.#sendBuffer.subarray(0, PUBLISH_HEADER_BYTES + payload.length);
    writePublishHeader(message, this.#topicId(topic), flags);
    for (const l of this.#links) {
      if ((l.watchers.get(topic) ?? 0) > 0) l.client.publishMessage(message);
    }
  }

  /** Topic ids in wire form, made once per topic rather than once per fragment. */
  readonly #topicIds = new Map<string, Uint8Array>();
  #topicId(topic: string): Uint8Array {
    let id = this.#topicIds.get(topic);
    if (id === undefined) this.#topicIds.set(topic, (id = hexToBytes(topic)));
    return id;
  }

  /** Sends on every ready link (for a phone whose whereabouts the hub does not know). */
  sendEverywhere(to: Uint8Array, payload: Uint8Array): void {
    for (const l of this.#links) if (l.state === 'ready') void l.client.send(to, payload).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all(this.#links.splice(0).map((l) => l.client.close()));
  }
}
