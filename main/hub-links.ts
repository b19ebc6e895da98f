// The hub's connections to relays: the cloud relay(s) for phones away from home, and its own LAN
// endpoint (the same relay protocol, served by the hub) for phones at home. Every link is equally
// untrusted: the same capabilities are granted on each, frames go to a link only while a phone
// watches there, and a reply goes back on the link the phone's message came in on.
import WebSocket from 'ws';
import { sign, type HubIdentity } from '../crypto/identity.ts';
import { RelayClient, type WebSocketConstructor } from '../relay/client.ts';
import type { Capability } from '../relay/codec.ts';
import { bytesToHex, hexToBytes } from './hex.ts';

export type LinkKind = 'relay' | 'lan';

export interface Link {
  readonly kind: LinkKind;
  readonly url: string;
  readonly client: RelayClient;
  state: string;
  readonly watchers: Map<string, number>;
  send(to: Uint8Array, payload: Uint8Array): Promise<void>;
}

export interface LinkEvents {
  onMessage(from: Uint8Array, payload: Uint8Array, via: Link): void;
  onMailboxMessage(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array, via: Link): void;
  onReady(via: Link): void;
  onState(via: Link, state: string): void;
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
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      ...(kind === 'lan' ? { backoffMs: [250, 500, 1000] } : {}),
      // Whatever a relay sends must never take the hub down: a handler's failure is logged, not thrown.
      onMessage: (from, payload) => this.#guard(() => this.events.onMessage(from, payload, link)),
      onMailboxMessage: (id, from, payload) => this.#guard(() => this.events.onMailboxMessage(id, from, payload, link)),
      // An oversized fragment is refused by the client (the relay would drop the whole link): say so.
      onError: (e) => {
        if (e.code === 'too-large') this.events.onError?.(e);
      },
      onWatchers: (topic, count) => {
        if (count > 0) watchers.set(bytesToHex(topic), count);
        else watchers.delete(bytesToHex(topic));
      },
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

  /** Publishes on every link where someone watches this topic (hex, as the store keeps it). */
  publish(topic: string, flags: number, payload: Uint8Array): void {
    let topicId: Uint8Array | undefined;
    for (const l of this.#links) {
      if ((l.watchers.get(topic) ?? 0) === 0) continue;
      topicId ??= this.#topicId(topic);
      l.client.publish(topicId, flags, payload);
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
