// The hub's connections to relays: the cloud relay(s) for phones away from home, and its own LAN
// endpoint (the same relay protocol, served by the hub) for phones at home. Every link is equally
// untrusted: the same capabilities are granted on each, frames go to a link only while a phone
// watches there, and a reply goes back on the link the phone's message came in on.
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { sign, type HubIdentity } from '../crypto/identity.ts';
import { RelayClient, type RelayFailure, type WebSocketConstructor } from '../relay/client.ts';
import { PUBLISH_HEADER_BYTES, writePublishHeader, type Capability } from '../relay/codec.ts';
import { bytesToHex, hexToBytes } from './hex.ts';

export type LinkKind = 'relay' | 'lan';

/**
 * Every message the hub sends to a relay in one event-loop turn, from any camera, leaves in one
 * write per relay once the turn's I/O callbacks have run (setImmediate). The hub frames each
 * message itself (RFC 6455 §5.2: a binary frame, FIN, masked as a client must) straight into one
 * buffer per relay socket, and writes that buffer: no array per message, no stream machinery per
 * message. The bytes on the wire are what ws would send; only the system calls and copies are
 * fewer. The buffer is used again next turn when the kernel took all of it at once (the usual
 * case), else the socket keeps it and the next turn takes a new one.
 */
const turnBatches = new Set<TurnBatch>();
let flushPending = false;

function flushAll(): void {
  flushPending = false;
  for (const batch of turnBatches) batch.flush();
  turnBatches.clear();
}

/** bufferutil (a dependency, ws's own native helper): XOR with the 4-byte key, source into target. */
const bufferUtil = createRequire(import.meta.url)('bufferutil') as {
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
};

/** Masking keys come from a pool of random bytes, refilled 2,048 keys at a time (as ws does). */
const MASK_POOL_BYTES = 8 * 1024;
const maskPool = Buffer.alloc(MASK_POOL_BYTES);
let maskAt = MASK_POOL_BYTES;

/** First size of a relay socket's turn buffer; it grows to the largest turn seen. */
const TURN_BUFFER_BYTES = 64 * 1024;
/** A frame's header: 2 bytes, up to 8 of extended length, the 4-byte masking key. */
const MAX_FRAME_HEADER_BYTES = 14;

class TurnBatch {
  #buffer = Buffer.allocUnsafe(TURN_BUFFER_BYTES);
  #used = 0;

  constructor(private readonly socket: Socket) {}

  /** Appends `data` as one masked binary frame. */
  add(data: Uint8Array): void {
    const length = data.length;
    const need = this.#used + MAX_FRAME_HEADER_BYTES + length;
    if (need > this.#buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, 2 * this.#buffer.length));
      bigger.set(this.#buffer.subarray(0, this.#used));
      this.#buffer = bigger;
    }
    const b = this.#buffer;
    let at = this.#used;
    b[at++] = 0x82; // FIN, binary
    if (length < 126) {
      b[at++] = 0x80 | length;
    } else if (length < 65536) {
      b[at++] = 0x80 | 126;
      b[at++] = length >>> 8;
      b[at++] = length & 0xff;
    } else {
      b[at++] = 0x80 | 127;
      b.writeUInt32BE(0, at);
      b.writeUInt32BE(length, at + 4); // under 2^32: the relay's limit is far lower
      at += 8;
    }
    if (maskAt === MASK_POOL_BYTES) {
      randomFillSync(maskPool);
      maskAt = 0;
    }
    const key = maskPool.subarray(maskAt, maskAt + 4);
    maskAt += 4;
    b.set(key, at);
    at += 4;
    if (length < 48) {
      for (let i = 0; i < length; i++) b[at + i] = data[i]! ^ key[i & 3]!;
    } else {
      bufferUtil.mask(data, key, b, at, length);
    }
    this.#used = at + length;
  }

  flush(): void {
    const used = this.#used;
    if (used === 0) return;
    this.#used = 0;
    if (this.socket.destroyed) return;
    this.socket.write(this.#buffer.subarray(0, used));
    // Written in full at once: the kernel has copied it and the buffer is ours again. Otherwise the
    // socket holds on to it until it drains.
    if (this.socket.writableLength > 0) this.#buffer = Buffer.allocUnsafe(this.#buffer.length);
  }
}

/**
 * ws with compression off (ciphertext does not compress), whose binary messages go through the
 * turn's batch (see `turnBatches`). Anything else (a callback, options, text) flushes the batch
 * first and goes through ws, so messages keep their order.
 */
class HubWebSocket extends WebSocket {
  #batch: TurnBatch | undefined;

  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }

  override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
    // ws keeps the net.Socket as _socket (not in its types).
    const socket = (this as unknown as { _socket?: Socket })._socket;
    if (rest.length === 0 && data instanceof Uint8Array && socket !== undefined && this.readyState === WebSocket.OPEN) {
      const batch = (this.#batch ??= new TurnBatch(socket));
      batch.add(data);
      turnBatches.add(batch);
      if (!flushPending) {
        flushPending = true;
        setImmediate(flushAll);
      }
      return;
    }
    this.#batch?.flush();
    (super.send as (...args: unknown[]) => void).call(this, data, ...rest);
  }

  override close(...args: Parameters<WebSocket['close']>): void {
    this.#batch?.flush(); // what was sent before the close frame goes before it
    super.close(...args);
  }
}

/**
 * Told whenever a topic's watchers change on any link of any HubLinks in this process: the cameras
 * (main/media/live-cameras.ts) then read a camera a phone now watches as it comes, before the
 * phone's watch command asks for its start. Process-wide so that it needs no wiring; a listener
 * only re-checks its own cameras, so another hub's change costs it a few map lookups.
 */
const watchersListeners = new Set<() => void>();

/** Returns the function that stops listening. */
export function onWatchersChanged(listener: () => void): () => void {
  watchersListeners.add(listener);
  return () => watchersListeners.delete(listener);
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
        for (const listener of watchersListeners) this.#guard(listener);
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
   * publish header, and every link's turn batch copies it out (masked) before the next. A new array per
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
