// Several relays and LAN endpoints in memory between one phone and one hub (FakeHub: real sessions,
// keys and crypto), and a manual clock for the link's timers. What only end-to-end tests reached
// (failover between paths, re-watch after a reconnect, re-handshake after unanswered commands) runs
// here in milliseconds, with time moved by the test rather than waited for.
import { toHex } from '../../../crypto/bytes.ts';
import type { HubIdentity } from '../../../crypto/identity.ts';
import type { SessionTransport } from '../../../main/phone-sessions.ts';
import type { CameraInfo, HubLink, HubLinkOptions, LinkState, LinkTimers, Timer } from '../../../phone/core/hub-link.ts';
import type { RelayFactory } from '../../../phone/core/pair.ts';
import type { PhoneProfile } from '../../../phone/core/profile.ts';
import type { RelayClient, RelayClientOptions, RelayClientState } from '../../../relay/client.ts';
import { FakeHub } from './fake-hub.ts';

/** Lets everything in flight in memory (each hop is a setImmediate, each answer a few promises) land. */
export async function drain(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

interface Due {
  at: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly every: number | undefined;
  live: boolean;
}

/** The link's clock and timers, moved only by advance(). */
export class ManualTimers implements LinkTimers {
  #t = 0;
  #seq = 0;
  #due: Due[] = [];

  readonly now = (): number => this.#t;

  after(ms: number, fn: () => void): Timer {
    return this.#add(ms, fn, undefined);
  }

  every(ms: number, fn: () => void): Timer {
    if (!(ms > 0)) throw new RangeError('every: ms must be > 0');
    return this.#add(ms, fn, ms);
  }

  #add(ms: number, fn: () => void, every: number | undefined): Timer {
    // As Node's setTimeout: a delay that is not a number (or negative) is 1 ms (a bug must not stop the clock here).
    const delay = ms >= 0 ? ms : 1;
    const due: Due = { at: this.#t + delay, seq: this.#seq++, fn, every, live: true };
    this.#due.push(due);
    return { cancel: () => { due.live = false; } };
  }

  /**
   * Moves the clock `ms` forward, firing what falls due in order of time (then of arming), and
   * letting what is in flight land before each one, as it would on a network faster than the timers.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#t + ms;
    for (let fired = 0; ; fired++) {
      if (fired > 10_000) throw new Error('ManualTimers: timers keep arming each other');
      await drain();
      this.#due = this.#due.filter((d) => d.live);
      let next: Due | undefined;
      for (const d of this.#due) if (d.at <= end && (next === undefined || d.at < next.at || (d.at === next.at && d.seq < next.seq))) next = d;
      if (next === undefined) break;
      this.#t = next.at;
      if (next.every !== undefined) next.at += next.every;
      else next.live = false;
      next.fn();
    }
    this.#t = end;
    await drain();
  }
}

class RefusedError extends Error {
  constructor(readonly code: string, request: string) {
    super(`${request}: ${code}`);
  }
}

/** One address the phone may try: a relay, or the hub's LAN endpoint. */
export class FakeEndpoint {
  /** A relay login succeeds here. */
  up = true;
  /** What the phone sends here reaches the hub; false plays another host at the hub's old LAN address. */
  hubThere = true;
  /** Subscriptions are refused for no capability: the hub has not granted it (yet) on this relay. */
  refuseSubscribe = false;
  /** Drops what goes to the hub, by envelope kind (a relay that loses messages). */
  dropToHub: (kind: number) => boolean = () => false;
  readonly clients: NetClient[] = [];
  /** Topics (hex) the phone subscribed to here, in order, and every attempt (refused ones too). */
  readonly subscribed: string[] = [];
  subscribeAttempts = 0;
  /** What the hub sends back through this path goes to the phone's client here. */
  readonly via: SessionTransport;

  constructor(readonly net: FakeNet, readonly url: string) {
    this.via = {
      send: async (_to, payload) => {
        const client = [...this.clients].reverse().find((c) => c.state === 'ready' && c.options.onMessage !== undefined);
        if (client === undefined || !this.up) return;
        setImmediate(() => {
          if (client.state === 'ready') client.options.onMessage?.(net.hub.identity.relay.publicKey, payload);
        });
      },
    };
  }

  /** Clients logged in here now (a probe counts while it lasts). */
  get connected(): number {
    return this.clients.filter((c) => c.state === 'ready').length;
  }

  /** The relay goes away: its clients lose it and keep trying ('waiting'). */
  drop(): void {
    this.up = false;
    for (const c of this.clients) if (c.state === 'ready' || c.state === 'connecting') c.set('waiting');
  }

  /** Back: the clients still trying log in again. */
  restore(): void {
    this.up = true;
    for (const c of this.clients) if (c.state === 'waiting') c.set('ready');
  }
}

/** The part of RelayClient HubLink uses, on a FakeEndpoint. */
export class NetClient {
  state: RelayClientState = 'connecting';
  readonly failure = undefined;
  readonly endpoint: FakeEndpoint;

  constructor(net: FakeNet, readonly options: RelayClientOptions) {
    this.endpoint = net.endpoint(options.url!);
    this.endpoint.clients.push(this);
    setImmediate(() => {
      if (this.state === 'connecting') this.set(this.endpoint.up ? 'ready' : 'waiting');
    });
  }

  set(s: RelayClientState): void {
    this.state = s;
    this.options.onStateChange?.(s);
  }

  async send(_to: Uint8Array, payload: Uint8Array): Promise<void> {
    if (this.state !== 'ready') throw new RefusedError('not-connected', 'send');
    const { endpoint } = this;
    endpoint.net.sent.push({ url: endpoint.url, kind: payload[0]! });
    if (!endpoint.hubThere || endpoint.dropToHub(payload[0]!)) return;
    const hub = endpoint.net.hub;
    setImmediate(() => {
      if (!hub.relay.closed) hub.relay.sessions.onMessage(this.options.publicKey, payload, endpoint.via);
    });
  }

  async subscribe(_hub: Uint8Array, topic: Uint8Array): Promise<void> {
    this.endpoint.subscribeAttempts++;
    if (this.state !== 'ready') throw new RefusedError('disconnected', 'subscribe');
    if (this.endpoint.refuseSubscribe) throw new RefusedError('no-capability', 'subscribe');
    this.endpoint.subscribed.push(toHex(topic));
  }

  async unsubscribe(): Promise<void> {}

  /** Logged in by the next turn of the loop, or not at all (the fake relay is there or not). */
  async waitReady(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.state !== 'ready') throw new RefusedError('timeout', 'waitReady');
  }

  async close(): Promise<void> {
    if (this.state !== 'closed') this.set('closed');
  }
}

/** The addresses in play, by URL; a client for an unknown URL makes its endpoint (up, hub there). */
export class FakeNet {
  readonly endpoints = new Map<string, FakeEndpoint>();
  readonly factory: RelayFactory = (o) => new NetClient(this, o) as unknown as RelayClient;
  /** Everything the phone sent towards the hub (delivered or not): where, and the envelope kind. */
  readonly sent: Array<{ url: string; kind: number }> = [];

  constructor(readonly hub: FakeHub) {}

  /** How many envelopes of this kind the phone sent. */
  count(kind: number): number {
    return this.sent.filter((m) => m.kind === kind).length;
  }

  endpoint(url: string): FakeEndpoint {
    let e = this.endpoints.get(url);
    if (e === undefined) {
      e = new FakeEndpoint(this, url);
      this.endpoints.set(url, e);
    }
    return e;
  }
}

export const LAN = 'ws://hub.lan.test/v1';
export const RELAY_1 = 'ws://relay-1.test/v1';
export const RELAY_2 = 'ws://relay-2.test/v1';
export const CAMERA: CameraInfo = { id: '00112233445566778899aabbccddeeff', name: 'door', number: 1, topic: 'aabbccddeeff00112233445566778899' };

export interface LinkOnNet {
  readonly hub: FakeHub;
  readonly net: FakeNet;
  readonly timers: ManualTimers;
  readonly link: HubLink;
  /** onPath calls, as "kind url". */
  readonly paths: string[];
  /** onPathRefused calls, with the manual clock's time. */
  readonly refused: Array<{ url: string; why: string; at: number }>;
  readonly states: LinkState[];
}

/**
 * A hub (keyed for CAMERA) and a phone whose profile knows these relays and LAN endpoints, linked
 * over a FakeNet on a manual clock. Nothing moves until the test advances the clock.
 */
export function linkOnNet(identity: HubIdentity, where: { relays: string[]; lan: string[] }, options: Partial<HubLinkOptions> = {}): LinkOnNet {
  const hub = new FakeHub(identity);
  hub.keys.begin(1, [CAMERA], []);
  const net = new FakeNet(hub);
  const timers = new ManualTimers();
  const paths: string[] = [];
  const refused: LinkOnNet['refused'] = [];
  const states: LinkState[] = [];
  const profile: PhoneProfile = { ...hub.profile, relays: where.relays, lanUrls: where.lan };
  const link = hub.link({
    relayFactory: net.factory, timers,
    onPath: (kind, url) => paths.push(`${kind} ${url}`),
    onPathRefused: (url, why) => refused.push({ url, why, at: timers.now() }),
    onState: (s) => states.push(s),
    ...options,
  }, profile);
  return { hub, net, timers, link, paths, refused, states };
}
