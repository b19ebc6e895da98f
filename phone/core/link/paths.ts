// Where a HubLink reaches its hub: the candidates (the hub's LAN endpoints, then relays), the one
// relay client in use, failover to the next candidate, looking for home while away, and whether
// the hub itself answers on a LAN endpoint (any host at a remembered address can complete a relay
// login there, so only an authenticated answer from the hub keeps the phone on it).
import { sign } from '../../../crypto/identity.ts';
import { encodeEnvelope, type Envelope } from '../../../crypto/messages.ts';
import { normaliseRelayUrl, type MediaMessage, type RelayClient, type RelayClientState, type RelayFailure } from '../../../relay/client.ts';
import type { PhoneProfile } from '../profile.ts';
import type { HubLinkOptions, PathKind } from './api.ts';
import type { LinkTimers, Timer } from './timers.ts';

export interface Candidate {
  readonly url: string;
  readonly kind: PathKind;
}

/** How long a path may stay down before we try the next one, and how often we look for home. */
export const FAILOVER_MS = 1200;
export const CONNECT_TIMEOUT_MS = 3000;
export const LAN_PROBE_MS = 4000;
/** How long a relay-only link waits for the hub's 'paths' notice (hubs before it never send one). */
const PATHS_WAIT_MS = 2000;
/**
 * A LAN endpoint is only a relay server at a remembered address: any host there can complete a
 * relay login. The phone stays on it only once the hub answered a session message there (an
 * authenticated reply) within this long, and leaves it when the hub falls silent there.
 */
export const PATH_CONFIRM_MS = 3000;
/** Silence on a LAN endpoint while watching: two of the hub's 5 s clock notices missed, and some. */
export const LAN_SILENCE_MS = 12_000;
/** A LAN endpoint that failed to answer for the hub is not probed again for this long (doubling). */
export const LAN_HOLD_OFF_MS = [60_000, 120_000, 300_000, 600_000];

/** What the path in use tells the rest of the link, and what it asks of it. */
export interface PathEvents {
  onMessage(from: Uint8Array, payload: Uint8Array): void;
  onMedia(m: MediaMessage): void;
  /** The client in use is up (a new path, or the same one back). */
  onUp(): void;
  /** The client in use lost its relay and is trying again. */
  onDown(): void;
  /** Whether anything is watched: the hub then speaks every few seconds, and silence means it is gone. */
  watching(): boolean;
  removed(): boolean;
}

export class Paths {
  client!: RelayClient;
  candidate!: Candidate;
  /** Whether we know which of the hub's addresses are LAN endpoints (see settled()). */
  private pathsHeard: boolean;
  private pathsWaiters: (() => void)[] = [];
  /** While a relay-only link moves off the LAN endpoint: settles once the relay is up (or gave up). */
  private moving: Promise<void> | undefined;
  private failoverTimer: Timer | undefined;
  private probeTimer: Timer | undefined;
  private probing = false;
  /** The client the hub has answered on (an authenticated message came through it). */
  private confirmed: RelayClient | undefined;
  private confirmTimer: Timer | undefined;
  /** When the hub last said something authenticated (monotonic ms). */
  private lastHeard = 0;
  /** LAN endpoints that did not answer for the hub: not probed again until then. */
  private readonly lanHeldOff = new Map<string, { until: number; strikes: number }>();
  /** Why the last relay or LAN endpoint tried could not be reached, for error messages. */
  private lastFailure: RelayFailure | undefined;
  private closed = false;
  private readonly profile: PhoneProfile;

  constructor(
    private readonly opts: HubLinkOptions,
    private readonly timers: LinkTimers,
    /** The monotonic clock silence and hold-offs are measured on (the liveness clock's). */
    private readonly now: () => number,
    private readonly events: PathEvents,
  ) {
    this.profile = opts.profile;
    this.pathsHeard = opts.profile.lanUrls !== undefined;
    if (this.candidates()[0] === undefined) throw new Error(opts.path === 'lan' ? 'the profile knows no LAN address of the hub' : 'the profile names no relay');
  }

  /** Connects to the best candidate; the rest of the link is ready for what the client reports. */
  start(): void {
    this.connect(this.candidates()[0]!);
    if (this.mode === 'auto' && this.candidates().some((c) => c.kind === 'lan')) {
      // Away from home on a relay: look for the LAN endpoint now and then, and go home when it answers.
      this.probeTimer = this.timers.every(LAN_PROBE_MS, () => void this.probeLan());
    }
  }

  private get mode(): 'auto' | 'lan' | 'relay' {
    return this.opts.path ?? 'auto';
  }

  /** Where we may reach the hub, best first: LAN endpoints, then relays (filtered by the path mode). */
  candidates(): Candidate[] {
    const mode = this.mode;
    const lan = [...new Set([...(this.opts.lanUrls ?? []), ...(this.profile.lanUrls ?? [])].map(normalised))];
    const chosen = this.opts.relayUrls ?? (this.opts.relayUrl !== undefined ? [this.opts.relayUrl] : undefined);
    const relays = (chosen !== undefined ? [...chosen] : this.profile.relays).map(normalised).filter((u) => chosen !== undefined || !lan.includes(u));
    const out: Candidate[] = [];
    if (mode !== 'relay') for (const url of lan) out.push({ url, kind: 'lan' });
    if (mode !== 'lan') for (const url of relays) out.push({ url, kind: 'relay' });
    return out;
  }

  async send(kind: (typeof Envelope)[keyof typeof Envelope], body: Uint8Array): Promise<void> {
    await this.client.send(this.profile.hub.relayKey, encodeEnvelope(kind, body));
  }

  /** Why the hub cannot be reached on the path in use, if its relay is down. */
  failure(): RelayFailure | undefined {
    return this.client.state === 'ready' ? undefined : this.client.failure ?? this.lastFailure;
  }

  /** Whether `client` is the one in use, on a LAN endpoint where the hub has not answered yet. */
  unconfirmedLan(client: RelayClient): boolean {
    return this.candidate.kind === 'lan' && this.client === client && this.confirmed !== client;
  }

  /**
   * Resolves once the path is the one the link will be used on: a relay-only link first learns
   * (or waits up to 2 s, and no later than `deadline`, to learn) whether it came in on the hub's
   * LAN endpoint, and moves off it.
   */
  async settled(deadline: number): Promise<void> {
    if (this.mode === 'relay' && !this.pathsHeard) {
      // Relays only, with a profile that does not yet know which of the hub's addresses is its LAN
      // endpoint (a fresh one lists it first among the relays): the hub says so right after the
      // handshake ('paths'); if we came in on it, we move to a real relay before anything is sent.
      await new Promise<void>((resolve) => {
        const timer = this.timers.after(Math.max(0, Math.min(PATHS_WAIT_MS, deadline - this.timers.now())), done);
        function done(): void {
          timer.cancel();
          resolve();
        }
        this.pathsWaiters.push(done);
      });
      this.pathsHeard = true; // or an older hub that never says: take the path we are on
    }
    if (this.moving !== undefined) await this.moving; // off the LAN endpoint: not before the relay is up
  }

  private connect(candidate: Candidate): void {
    this.candidate = candidate;
    const client = this.opts.relayFactory({
      url: candidate.url,
      publicKey: this.profile.relayKey.publicKey,
      sign: (m) => sign(this.profile.relayKey, m),
      onMessage: (from, payload) => {
        if (this.client === client) this.events.onMessage(from, payload);
      },
      onMedia: (m) => {
        if (this.client === client) this.events.onMedia(m);
      },
      onStateChange: (s) => {
        if (this.client === client) this.onState(s);
      },
      onFailure: (f) => {
        if (this.client !== client) return;
        this.lastFailure = f;
        this.opts.onRelayFailure?.(f);
      },
    });
    this.client = client;
    this.armFailover(CONNECT_TIMEOUT_MS);
  }

  private onState(s: RelayClientState): void {
    if (this.closed) return;
    if (s === 'ready') {
      this.failoverTimer?.cancel();
      this.armConfirm();
      this.opts.onPath?.(this.candidate.kind, this.candidate.url);
      this.events.onUp();
    } else if (s === 'waiting' || s === 'connecting') {
      this.events.onDown();
      this.armFailover(FAILOVER_MS);
    }
  }

  /** If this path is not up within `ms`, move to the next candidate. */
  private armFailover(ms: number): void {
    this.failoverTimer?.cancel();
    const list = this.candidates();
    if (list.length < 2 || this.closed) return;
    this.failoverTimer = this.timers.after(ms, () => {
      if (this.closed || this.client.state === 'ready') return;
      const i = list.findIndex((c) => c.url === this.candidate.url);
      void this.switchTo(list[(i + 1) % list.length]!);
    });
  }

  private async switchTo(next: Candidate): Promise<void> {
    if (this.closed || next.url === this.candidate.url) return;
    const old = this.client;
    this.connect(next);
    await old.close().catch(() => undefined);
  }

  /** One look for home: on a relay, moves to a LAN endpoint that logs us in; at home, checks for silence. */
  async probeLan(): Promise<void> {
    if (this.closed || this.probing || this.events.removed()) return;
    if (this.candidate.kind === 'lan') {
      // At home. While we watch, the hub says the time every 5 s: silence means it is not (or no
      // longer) reachable through this endpoint, whatever the endpoint itself still answers.
      if (this.events.watching() && this.confirmed === this.client && this.now() - this.lastHeard > LAN_SILENCE_MS) {
        this.leaveLan('the hub fell silent there');
      }
      return;
    }
    const now = this.now();
    const lan = this.candidates().find((c) => c.kind === 'lan' && (this.lanHeldOff.get(c.url)?.until ?? 0) <= now);
    if (lan === undefined) return;
    this.probing = true;
    const probe = this.opts.relayFactory({
      url: lan.url, publicKey: this.profile.relayKey.publicKey, sign: (m) => sign(this.profile.relayKey, m), backoffMs: [60_000],
    });
    try {
      await probe.waitReady(2000);
      await probe.close();
      await this.switchTo(lan);
    } catch {
      // Not at home (or the hub's LAN endpoint is down): stay on the relay.
    } finally {
      await probe.close().catch(() => undefined);
      this.probing = false;
    }
  }

  /**
   * A path is confirmed when the hub answers on it. A LAN endpoint that does not within
   * PATH_CONFIRM_MS (a host that completed a relay login but is not the hub, or drops what we
   * send) is held off and left for the next candidate.
   */
  private armConfirm(): void {
    this.confirmTimer?.cancel();
    const client = this.client;
    if (this.candidate.kind !== 'lan' || this.confirmed === client) return;
    this.confirmTimer = this.timers.after(PATH_CONFIRM_MS, () => {
      if (this.closed || this.client !== client || this.confirmed === client) return;
      this.leaveLan('the hub did not answer there');
    });
  }

  /** The hub said something authenticated through the client in use. */
  heard(): void {
    this.lastHeard = this.now();
    if (this.confirmed === this.client) return;
    this.confirmed = this.client;
    this.confirmTimer?.cancel();
    if (this.candidate.kind === 'lan') this.lanHeldOff.delete(this.candidate.url);
  }

  /** Off this LAN endpoint to the next candidate (a relay), and do not probe it again for a while. */
  leaveLan(why: string): void {
    const url = this.candidate.url;
    const strikes = (this.lanHeldOff.get(url)?.strikes ?? 0) + 1;
    const hold = LAN_HOLD_OFF_MS[Math.min(strikes, LAN_HOLD_OFF_MS.length) - 1]!;
    this.lanHeldOff.set(url, { until: this.now() + hold, strikes });
    const list = this.candidates();
    const next = list.find((c) => c.kind === 'relay') ?? list.find((c) => c.url !== url);
    this.opts.onPathRefused?.(url, why);
    if (next !== undefined) void this.switchTo(next);
  }

  /** The hub's 'paths' notice: its LAN endpoints, remembered for next time (and probed while on a relay). */
  onPathsNotice(announced: readonly string[]): void {
    const lan = announced.filter((u) => /^wss?:\/\//.test(u)).slice(0, 4);
    this.pathsHeard = true;
    const waiters = this.pathsWaiters.splice(0);
    if (this.profile.lanUrls === undefined || JSON.stringify(lan) !== JSON.stringify(this.profile.lanUrls)) {
      this.profile.lanUrls = lan;
      this.opts.onProfileChanged?.(this.profile);
    }
    if (this.candidate.kind === 'relay' && lan.includes(this.candidate.url)) {
      // A fresh profile lists the hub's LAN endpoint among its relays (the invite does, so
      // that pairing works at home without the internet); now we know which one it is.
      const relay = this.mode === 'relay' ? this.candidates()[0] : undefined;
      if (relay !== undefined) {
        // Asked for relays only: go to a real one rather than stay on the LAN endpoint.
        void this.switchTo(relay);
        const moving = this.client.waitReady(CONNECT_TIMEOUT_MS).catch(() => undefined);
        this.moving = moving;
        void moving.then(() => {
          if (this.moving === moving) this.moving = undefined;
        });
      } else {
        this.candidate = { url: this.candidate.url, kind: 'lan' };
        this.opts.onPath?.('lan', this.candidate.url);
      }
    }
    for (const w of waiters) w();
    if (this.probeTimer === undefined && lan.length > 0 && this.mode === 'auto') {
      this.probeTimer = this.timers.every(LAN_PROBE_MS, () => void this.probeLan());
    }
  }

  /** Stops every timer; the caller closes the client last. */
  close(): void {
    this.closed = true;
    this.failoverTimer?.cancel();
    this.confirmTimer?.cancel();
    this.probeTimer?.cancel();
  }
}

/** Relay URLs as the relay client uses them (`ws://HOST:PORT` is `.../v1`); a bad one is left for it to refuse. */
function normalised(url: string): string {
  try {
    return normaliseRelayUrl(url);
  } catch {
    return url;
  }
}
