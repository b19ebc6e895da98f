// A paired phone's live link to its hub, over any transport that speaks the relay protocol (the
// cloud relay, or the hub's LAN endpoint). It keeps a Noise session with the hub, sends signed
// commands, takes key updates, and opens frames. Everything the relay hands it is checked end to
// end: frames and key updates addressed elsewhere are "not for me" and skipped, never shown.
import { equalBytes, fromBase64url, fromHex } from '../../crypto/bytes.ts';
import { signCommand, type Action } from '../../crypto/command.ts';
import { readRefusal, type ArgsOf, type CameraListing, type RefusalCode, type ResultOf, type StreamProfile, type WatchArgs } from '../../crypto/phone-commands.ts';
import type { CryptoError} from '../../crypto/errors.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { sign } from '../../crypto/identity.ts';
import { FrameOpener, type OpenedFrame } from '../../crypto/frame.ts';
import { openKeyUpdate, openKeyUpdateOffline, type KeyUpdate } from '../../crypto/keyupdate.ts';
import {
  Envelope, decodeEnvelope, decodeSessionMessage, encodeEnvelope, encodeSessionMessage, type Notice,
} from '../../crypto/messages.ts';
import { startSession, type Session } from '../../crypto/session.ts';
import { normaliseRelayUrl, type MediaMessage, type RelayClient, type RelayClientState, type RelayFailure } from '../../relay/client.ts';
import { LiveClock, type Liveness, type LivenessOptions } from './liveness.ts';
import type { RelayFactory } from './pair.ts';
import type { PhoneProfile } from './profile.ts';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'hub-offline' | 'refused' | 'removed' | 'closed';

/** A camera as the hub lists it, and the hub's h264 profile of it (crypto/phone-commands.ts). */
export type CameraInfo = CameraListing;
export type { StreamProfile };

export interface WatchOptions {
  /** Watch this profile instead of the camera's own stream. */
  readonly profile?: 'h264';
}

/** The stream a watch names: its topic and the camera number its frames carry. */
export function streamOf(camera: CameraInfo, opts: WatchOptions = {}): { topic: string; number: number } {
  if (opts.profile === undefined) return { topic: camera.topic, number: camera.number };
  const p = camera.profiles?.find((x) => x.name === opts.profile);
  if (p === undefined) throw new CommandError(`camera "${camera.name}" has no ${opts.profile} profile`);
  return { topic: p.topic, number: p.number };
}

export interface LinkCounters {
  opened: number;
  notForMe: number;
  replayed: number;
  tampered: number;
  malformed: number;
  /** Frames the relay says it dropped for this phone (a slow viewer); the video has a gap there. */
  relayDropped: number;
}

export interface HubLinkOptions {
  profile: PhoneProfile;
  relayFactory: RelayFactory;
  relayUrl?: string;
  /** Relay nodes to use instead of the profile's (tried in order, moving on when one fails). */
  relayUrls?: readonly string[];
  /** 'auto' (default): the hub's LAN endpoint when it answers, else a relay; or only one of them. */
  path?: PathMode;
  /** LAN endpoints found just now (mDNS), tried before the ones the profile remembers. */
  lanUrls?: readonly string[];
  onPath?: (path: PathKind, url: string) => void;
  /** A LAN endpoint was left (or not kept) because the hub did not answer there. */
  onPathRefused?: (url: string, why: string) => void;
  /** Called when the profile's command counter moved, so the caller can save it. */
  onProfileChanged?: (profile: PhoneProfile) => void;
  onState?: (state: LinkState, detail?: string) => void;
  /** Why the relay or LAN endpoint in use cannot be reached: once per change of reason. */
  onRelayFailure?: (failure: RelayFailure) => void;
  onFrame?: (frame: OpenedFrame) => void;
  onNotice?: (notice: Notice) => void;
  onKeyUpdate?: (epoch: number) => void;
  commandTimeoutMs?: number;
  /** How long a session is used before the next handshake (REKEY_AFTER_MS); tests shorten it. */
  rekeyAfterMs?: number;
  /** Thresholds (and, in tests, the clock) for telling live video from old; see liveness.ts. */
  liveness?: LivenessOptions;
}

interface PendingCommand {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export type PathMode = 'auto' | 'lan' | 'relay';
export type PathKind = 'lan' | 'relay';

interface Candidate {
  readonly url: string;
  readonly kind: PathKind;
}

/** How long a path may stay down before we try the next one, and how often we look for home. */
const FAILOVER_MS = 1200;
const CONNECT_TIMEOUT_MS = 3000;
const LAN_PROBE_MS = 4000;
/** Between tries to watch again after a reconnect while the hub is not back on the relay (15.5 s in all). */
const REWATCH_RETRY_MS = [500, 1000, 2000, 4000, 8000];
/** How long a relay-only link waits for the hub's 'paths' notice (hubs before it never send one). */
const PATHS_WAIT_MS = 2000;
/**
 * A LAN endpoint is only a relay server at a remembered address: any host there can complete a
 * relay login. The phone stays on it only once the hub answered a session message there (an
 * authenticated reply) within this long, and leaves it when the hub falls silent there.
 */
const PATH_CONFIRM_MS = 3000;
/** Silence on a LAN endpoint while watching: two of the hub's 5 s clock notices missed, and some. */
const LAN_SILENCE_MS = 12_000;
/** A LAN endpoint that failed to answer for the hub is not probed again for this long (doubling). */
const LAN_HOLD_OFF_MS = [60_000, 120_000, 300_000, 600_000];
/** At most this often, watch again only to measure the hub's clock (it re-sends the GOP). */
const REMEASURE_INTERVAL_MS = 30_000;

export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** Set when the hub refused the command (its stable code); unset when it never answered. */
  readonly code: RefusalCode | undefined;
  constructor(message: string, code?: RefusalCode) {
    super(message);
    this.code = code;
  }
}

const HANDSHAKE_RETRY_MS = [500, 1000, 2000, 5000];
/**
 * Commands in a row the hub does not answer before we handshake again: it may no longer read our
 * session (it restarted, and a relay kept its SESSION_RESET from us).
 */
const REHANDSHAKE_AFTER_TIMEOUTS = 2;
/**
 * A new handshake this long after the last one, so a session key that leaks opens little: the hub
 * refuses a session after 3 minutes (main/phone-sessions.ts REJECT_AFTER_MS). PROTOCOL 6.6.
 */
export const REKEY_AFTER_MS = 120_000;

export class HubLink {
  readonly counters: LinkCounters = { opened: 0, notForMe: 0, replayed: 0, tampered: 0, malformed: 0, relayDropped: 0 };
  private readonly profile: PhoneProfile;
  private client!: RelayClient;
  private candidate!: Candidate;
  private failoverTimer: ReturnType<typeof setTimeout> | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private rewatchRound = 0;
  /** Ends a rewatch wait at once (close()); the loop then sees `closed`. */
  private readonly rewatchWaits = new Set<() => void>();
  private probing = false;
  /** Whether we know which of the hub's addresses are LAN endpoints (see ready()). */
  private pathsHeard: boolean;
  private pathsWaiters: (() => void)[] = [];
  /** While a relay-only link moves off the LAN endpoint: settles once the relay is up (or gave up). */
  private moving: Promise<void> | undefined;
  private readonly opener = new FrameOpener();
  private session: Session | undefined;
  private handshake: { finish(message2: Uint8Array): { session: Session; payload: Uint8Array } } | undefined;
  private sessionWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private readonly pending = new Map<bigint, PendingCommand>();
  private state: LinkState = 'connecting';
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private handshakeAttempt = 0;
  /** Commands that timed out since the hub last answered one. */
  private missedAnswers = 0;
  private rekeyTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Why the last relay or LAN endpoint tried could not be reached, for error messages. */
  private lastFailure: RelayFailure | undefined;
  private epoch = -1;
  private readonly watched = new Map<string, { camera: CameraInfo; opts: WatchOptions }>();
  /** Chunks of answers in progress (snapshots), by command; bounded. */
  private readonly blobs = new Map<string, Map<number, Uint8Array>>();

  /** How old the newest picture of each stream is, against the hub's clock (liveness.ts). */
  private readonly clock: LiveClock;
  private lastRemeasure = -Infinity;
  /** The client the hub has answered on (an authenticated message came through it). */
  private confirmed: RelayClient | undefined;
  private confirmTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the hub last said something authenticated (monotonic ms). */
  private lastHeard = 0;
  /** LAN endpoints that did not answer for the hub: not probed again until then. */
  private readonly lanHeldOff = new Map<string, { until: number; strikes: number }>();

  constructor(private readonly opts: HubLinkOptions) {
    this.profile = opts.profile;
    this.clock = new LiveClock(opts.liveness);
    this.pathsHeard = opts.profile.lanUrls !== undefined;
    const first = this.candidates()[0];
    if (first === undefined) throw new Error(opts.path === 'lan' ? 'the profile knows no LAN address of the hub' : 'the profile names no relay');
    this.connect(first);
    if ((opts.path ?? 'auto') === 'auto' && this.candidates().some((c) => c.kind === 'lan')) {
      // Away from home on a relay: look for the LAN endpoint now and then, and go home when it answers.
      this.probeTimer = setInterval(() => void this.probeLan(), LAN_PROBE_MS);
    }
  }

  /** Where we may reach the hub, best first: LAN endpoints, then relays (filtered by the path mode). */
  private candidates(): Candidate[] {
    const mode = this.opts.path ?? 'auto';
    const lan = [...new Set([...(this.opts.lanUrls ?? []), ...(this.profile.lanUrls ?? [])].map(normalised))];
    const chosen = this.opts.relayUrls ?? (this.opts.relayUrl !== undefined ? [this.opts.relayUrl] : undefined);
    const relays = (chosen !== undefined ? [...chosen] : this.profile.relays).map(normalised).filter((u) => chosen !== undefined || !lan.includes(u));
    const out: Candidate[] = [];
    if (mode !== 'relay') for (const url of lan) out.push({ url, kind: 'lan' });
    if (mode !== 'lan') for (const url of relays) out.push({ url, kind: 'relay' });
    return out;
  }

  /** The path in use: 'lan' ("at home") or 'relay' ("through relay"). */
  get path(): PathKind {
    return this.candidate.kind;
  }

  get pathUrl(): string {
    return this.candidate.url;
  }

  private connect(candidate: Candidate): void {
    this.candidate = candidate;
    const client = this.opts.relayFactory({
      url: candidate.url,
      publicKey: this.profile.relayKey.publicKey,
      sign: (m) => sign(this.profile.relayKey, m),
      onMessage: (from, payload) => {
        if (this.client === client) this.onDirect(from, payload);
      },
      onMedia: (m) => {
        if (this.client === client) this.onMedia(m);
      },
      onStateChange: (s) => {
        if (this.client === client) this.onRelayState(s);
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

  /** If this path is not up within `ms`, move to the next candidate. */
  private armFailover(ms: number): void {
    clearTimeout(this.failoverTimer);
    const list = this.candidates();
    if (list.length < 2 || this.closed) return;
    this.failoverTimer = setTimeout(() => {
      if (this.closed || this.client.state === 'ready') return;
      const i = list.findIndex((c) => c.url === this.candidate.url);
      void this.switchTo(list[(i + 1) % list.length]!);
    }, ms);
  }

  private async switchTo(next: Candidate): Promise<void> {
    if (this.closed || next.url === this.candidate.url) return;
    const old = this.client;
    this.connect(next);
    await old.close().catch(() => undefined);
  }

  private async probeLan(): Promise<void> {
    if (this.closed || this.probing || this.state === 'removed') return;
    if (this.candidate.kind === 'lan') {
      // At home. While we watch, the hub says the time every 5 s: silence means it is not (or no
      // longer) reachable through this endpoint, whatever the endpoint itself still answers.
      if (this.watched.size > 0 && this.confirmed === this.client && this.clock.now() - this.lastHeard > LAN_SILENCE_MS) {
        this.leaveLan('the hub fell silent there');
      }
      return;
    }
    const now = this.clock.now();
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

  get linkState(): LinkState {
    return this.state;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  /**
   * Resolves when a session with the hub is up, on the path it will be used on: a relay-only link
   * first learns (or waits up to 2 s to learn) whether it came in on the hub's LAN endpoint.
   */
  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.sessionUp(timeoutMs);
    if ((this.opts.path ?? 'auto') === 'relay' && !this.pathsHeard) {
      // Relays only, with a profile that does not yet know which of the hub's addresses is its LAN
      // endpoint (a fresh one lists it first among the relays): the hub says so right after the
      // handshake ('paths'); if we came in on it, we move to a real relay before anything is sent.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, Math.min(PATHS_WAIT_MS, deadline - Date.now())));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.pathsWaiters.push(done);
      });
      this.pathsHeard = true; // or an older hub that never says: take the path we are on
    }
    if (this.moving !== undefined) await this.moving; // off the LAN endpoint: not before the relay is up
  }

  private async sessionUp(timeoutMs: number): Promise<void> {
    if (this.session !== undefined) return;
    this.throwIfRefused();
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.sessionWaiters = this.sessionWaiters.filter((w) => w !== waiter);
        const f = this.client.state === 'ready' ? undefined : this.client.failure ?? this.lastFailure;
        reject(new CommandError(this.state === 'hub-offline' ? 'the hub is offline'
          : f !== undefined ? `cannot reach the hub: ${f.url}: ${f.message} [${f.code}]` : 'no session with the hub (timed out)'));
      }, timeoutMs);
      this.sessionWaiters.push(waiter);
    });
  }

  private throwIfRefused(): void {
    if (this.state === 'removed') throw new CommandError('this phone was removed from the hub');
    if (this.state === 'refused') throw new CommandError('the relay refuses to connect this phone to the hub: was it removed from the hub?');
  }

  /**
   * Sends a signed command and waits for the hub's answer. The answer comes inside the authenticated
   * session, from the hub itself: its shape is the hub's word (crypto/phone-commands.ts).
   */
  async command<A extends Action>(action: A, ...[args]: ArgsOf<A> extends null ? [] : [ArgsOf<A>]): Promise<ResultOf<A>> {
    await this.ready();
    const session = this.session!;
    const seq = this.nextSeq();
    const signed = signCommand(this.profile.device, { hubId: this.profile.hub.hubId, seq, issuedAt: Date.now(), action, args });
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new CommandError(`${action}: the hub did not answer in time`));
        this.onCommandTimeout();
      }, this.opts.commandTimeoutMs ?? 15_000);
      this.pending.set(seq, { resolve, reject, timer });
    });
    // Handled here too, so a close() while the send is still under way is no unhandled rejection.
    result.catch(() => undefined);
    try {
      await this.sendToHub(Envelope.SESSION_DATA, session.seal(encodeSessionMessage({ kind: 'command', signed })));
    } catch (e) {
      // Not sent (the hub is offline, the relay is down): no answer to wait for, and no sign that
      // the hub lost our session.
      clearTimeout(this.pending.get(seq)?.timer);
      this.pending.delete(seq);
      throw e;
    }
    return result as Promise<ResultOf<A>>;
  }

  /** A JPEG from the camera (ONVIF), sent by the hub in chunks inside the session. */
  async snapshot(camera: CameraInfo): Promise<Uint8Array> {
    const r = await this.command('snapshot', { camera: camera.id });
    const parts = this.blobs.get(r.blob);
    this.blobs.delete(r.blob);
    if (parts === undefined || parts.size !== r.chunks) throw new CommandError('snapshot: incomplete answer from the hub');
    const out = new Uint8Array(r.bytes);
    let offset = 0;
    for (let i = 0; i < r.chunks; i++) {
      const chunk = parts.get(i)!;
      if (offset + chunk.length > out.length) throw new CommandError('snapshot: inconsistent answer from the hub');
      out.set(chunk, offset);
      offset += chunk.length;
    }
    if (offset !== out.length) throw new CommandError('snapshot: inconsistent answer from the hub');
    return out;
  }

  async listCameras(): Promise<CameraInfo[]> {
    const value = await this.command('list-cameras');
    if (!Array.isArray(value)) throw new CommandError('list-cameras: unexpected answer');
    return value;
  }

  /**
   * Subscribes first, then asks the hub for the init segment and latest GOP, so nothing falls
   * between. With `profile: 'h264'` it watches the hub's H.264 transcode of the camera instead (the
   * hub runs it while someone watches); its frames carry the profile's camera number.
   */
  async watch(camera: CameraInfo, opts: WatchOptions = {}): Promise<void> {
    const { topic } = streamOf(camera, opts);
    this.watched.set(topic, { camera, opts });
    await this.ready();
    await this.subscribe(fromHexId(topic));
    await this.watchCommand(camera, opts);
  }

  /**
   * Whether what arrives of this stream is live: the newest picture's capture time against the
   * hub's clock, which only authenticated session messages carry (liveness.ts).
   */
  liveness(camera: CameraInfo, opts: WatchOptions = {}): Liveness {
    return this.clock.liveness(streamOf(camera, opts).number);
  }

  /** The watch command, timed: the round trip to its answer's `hubTime` bounds the hub's clock. */
  private async watchCommand(camera: CameraInfo, opts: WatchOptions): Promise<void> {
    const sentAt = this.clock.now();
    const result = await this.command('watch', watchArgs(camera, opts));
    // Hubs from before liveness (issue 14) answer without it.
    if (typeof result.hubTime === 'number') this.clock.answered(sentAt, result.hubTime, streamOf(camera, opts).number);
  }

  /** The hub's clock notices say ours is off (or late): watch one stream again to measure. */
  private remeasure(): void {
    const first = this.watched.values().next();
    if (first.done === true || this.clock.now() - this.lastRemeasure < REMEASURE_INTERVAL_MS) return;
    this.lastRemeasure = this.clock.now();
    this.watchCommand(first.value.camera, first.value.opts).catch(() => undefined);
  }

  async unwatch(camera: CameraInfo, opts: WatchOptions = {}): Promise<void> {
    const { topic, number } = streamOf(camera, opts);
    this.watched.delete(topic);
    this.clock.forget(number);
    await this.client.unsubscribe(this.profile.hub.relayKey, fromHexId(topic)).catch(() => undefined);
    await this.command('unwatch', watchArgs(camera, opts)).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.rekeyTimer);
    clearTimeout(this.failoverTimer);
    clearTimeout(this.confirmTimer);
    clearInterval(this.probeTimer);
    for (const stop of this.rewatchWaits) stop();
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new CommandError('closed'));
    }
    this.pending.clear();
    this.setState('closed');
    await this.client.close();
  }

  // ---------------------------------------------------------------------------------------------

  private nextSeq(): bigint {
    // Time-based floor keeps sequence numbers rising even if a saved profile lags behind.
    const floor = BigInt(Date.now()) * 1000n;
    const seq = this.profile.lastSeq >= floor ? this.profile.lastSeq + 1n : floor;
    this.profile.lastSeq = seq;
    this.opts.onProfileChanged?.(this.profile);
    return seq;
  }

  private setState(state: LinkState, detail?: string): void {
    if (this.state === state || (this.state === 'removed' && state !== 'closed')) return;
    this.state = state;
    this.opts.onState?.(state, detail);
    if (state === 'removed' || state === 'refused' || state === 'closed') {
      const waiters = this.sessionWaiters;
      this.sessionWaiters = [];
      for (const w of waiters) {
        try {
          this.throwIfRefused();
          w.reject(new CommandError('closed'));
        } catch (e) {
          w.reject(e as Error);
        }
      }
    }
  }

  /**
   * A path is confirmed when the hub answers on it. A LAN endpoint that does not within
   * PATH_CONFIRM_MS (a host that completed a relay login but is not the hub, or drops what we
   * send) is held off and left for the next candidate.
   */
  private armConfirm(): void {
    clearTimeout(this.confirmTimer);
    const client = this.client;
    if (this.candidate.kind !== 'lan' || this.confirmed === client) return;
    this.confirmTimer = setTimeout(() => {
      if (this.closed || this.client !== client || this.confirmed === client) return;
      this.leaveLan('the hub did not answer there');
    }, PATH_CONFIRM_MS);
  }

  /** The hub said something authenticated through the client in use. */
  private heard(): void {
    this.lastHeard = this.clock.now();
    if (this.confirmed === this.client) return;
    this.confirmed = this.client;
    clearTimeout(this.confirmTimer);
    if (this.candidate.kind === 'lan') this.lanHeldOff.delete(this.candidate.url);
  }

  /** Off this LAN endpoint to the next candidate (a relay), and do not probe it again for a while. */
  private leaveLan(why: string): void {
    const url = this.candidate.url;
    const strikes = (this.lanHeldOff.get(url)?.strikes ?? 0) + 1;
    const hold = LAN_HOLD_OFF_MS[Math.min(strikes, LAN_HOLD_OFF_MS.length) - 1]!;
    this.lanHeldOff.set(url, { until: this.clock.now() + hold, strikes });
    const list = this.candidates();
    const next = list.find((c) => c.kind === 'relay') ?? list.find((c) => c.url !== url);
    this.opts.onPathRefused?.(url, why);
    if (next !== undefined) void this.switchTo(next);
  }

  private onRelayState(s: RelayClientState): void {
    if (this.closed) return;
    if (s === 'ready') {
      clearTimeout(this.failoverTimer);
      this.armConfirm();
      this.opts.onPath?.(this.candidate.kind, this.candidate.url);
      // Sessions are end to end: a new path or a relay reconnect needs no new handshake, only a
      // new one when we have none.
      if (this.session === undefined) this.startHandshake();
      else {
        this.setState('live');
        // Say something on the new path even with nothing to watch: the hub answers on the path
        // a phone last spoke on, and re-sends the key update when that changes.
        if (this.watched.size > 0) this.rewatch();
        else this.command('list-cameras').catch(() => undefined);
      }
    } else if (s === 'waiting' || s === 'connecting') {
      if (this.state !== 'connecting') this.setState('reconnecting');
      this.armFailover(FAILOVER_MS);
    }
  }

  private startHandshake(): void {
    if (this.closed || this.state === 'removed') return;
    clearTimeout(this.handshakeTimer);
    const { message1, finish } = startSession({ device: this.profile.device, hub: this.profile.hub });
    this.handshake = { finish };
    const client = this.client;
    this.sendToHub(Envelope.SESSION_1, message1).catch((e: unknown) => {
      const code = (e as { code?: string } | undefined)?.code;
      // What an unconfirmed LAN endpoint says is not the hub's word: any host there can say it.
      if (this.candidate.kind === 'lan' && this.client === client && this.confirmed !== client) {
        if (code === 'offline' || code === 'no-capability') this.leaveLan(`it says the hub is not there (${code})`);
        return;
      }
      if (code === 'offline') this.setState('hub-offline');
      // The relay holds no capability for us: the hub withdrew it (removed), or never re-granted it.
      // Only the hub can say "removed" authentically, so this is a hint shown as such, not a verdict.
      else if (code === 'no-capability') this.setState('refused', 'the relay says this phone may not reach the hub (removed from it?)');
    });
    // If no answer comes (hub offline, message lost), try again with backoff.
    const delay = HANDSHAKE_RETRY_MS[Math.min(this.handshakeAttempt++, HANDSHAKE_RETRY_MS.length - 1)]!;
    this.handshakeTimer = setTimeout(() => {
      if (this.handshake !== undefined) this.startHandshake(); // no message 2 came
    }, delay + 2000);
  }

  /**
   * A command timed out: after a few in a row we take the session for lost and handshake again;
   * commands wait for the new one rather than go where nobody reads them.
   */
  private onCommandTimeout(): void {
    if (++this.missedAnswers < REHANDSHAKE_AFTER_TIMEOUTS || this.handshake !== undefined || this.closed) return;
    this.missedAnswers = 0;
    this.session = undefined;
    this.startHandshake();
  }

  private async sendToHub(kind: (typeof Envelope)[keyof typeof Envelope], body: Uint8Array): Promise<void> {
    await this.client.send(this.profile.hub.relayKey, encodeEnvelope(kind, body));
  }

  private onDirect(from: Uint8Array, payload: Uint8Array): void {
    // Only the hub talks to us directly; what else arrives is misrouted and is not opened.
    if (!equalBytes(from, this.profile.hub.relayKey)) {
      this.counters.notForMe++;
      return;
    }
    let env;
    try {
      env = decodeEnvelope(payload);
    } catch {
      this.counters.malformed++;
      return;
    }
    try {
      switch (env.kind) {
        case Envelope.SESSION_2:
          this.onSession2(env.body);
          break;
        case Envelope.SESSION_DATA:
          this.onSessionData(env.body);
          break;
        case Envelope.SESSION_RESET:
          // Unauthenticated, so it can only make us do a fresh handshake, nothing worse. One under
          // way already answers it (and a relay repeating resets must not restart it forever).
          if (this.handshake !== undefined) break;
          this.session = undefined;
          this.startHandshake();
          break;
        case Envelope.KEY_UPDATE_OFFLINE:
          this.takeKeyUpdate(openKeyUpdateOffline(env.body, this.profile.device, this.profile.hub));
          break;
        case Envelope.FRAME:
          this.openFrame(env.body);
          break;
        default:
          this.counters.malformed++;
      }
    } catch (e) {
      this.count(e);
    }
  }

  private onSession2(message2: Uint8Array): void {
    if (this.handshake === undefined) return;
    const { session, payload } = this.handshake.finish(message2);
    this.handshake = undefined;
    this.heard();
    // The hub answers a handshake with this phone's current key update.
    if (payload.length > 0) this.takeKeyUpdate(openKeyUpdate(payload, this.profile.hub, this.profile.device.deviceId));
    // A scheduled re-key: the hub still holds our watches, and this session replaces a working one.
    const rekeyed = this.session !== undefined;
    this.session = session;
    this.handshakeAttempt = 0;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.rekeyTimer);
    this.rekeyTimer = setTimeout(() => this.rekey(), this.opts.rekeyAfterMs ?? REKEY_AFTER_MS);
    this.setState('live');
    const waiters = this.sessionWaiters;
    this.sessionWaiters = [];
    for (const w of waiters) w.resolve();
    // After a hub restart, ask again for what we were watching; with nothing to watch (or after a
    // re-key), say one thing in the new session so the hub knows it is ours (it keeps the old one
    // until then).
    if (this.watched.size > 0 && !rekeyed) this.rewatch();
    else this.command('list-cameras').catch(() => undefined);
  }

  /** The session is REKEY_AFTER_MS old: handshake again, using it until the new one is up. */
  private rekey(): void {
    if (this.closed || this.state === 'removed' || this.handshake !== undefined || this.session === undefined) return;
    this.startHandshake();
  }

  private onSessionData(body: Uint8Array): void {
    if (this.session === undefined) return;
    const message = decodeSessionMessage(this.session.open(body));
    this.heard();
    switch (message.kind) {
      case 'result': {
        const p = this.pending.get(message.seq);
        if (p === undefined) return;
        this.missedAnswers = 0;
        this.pending.delete(message.seq);
        clearTimeout(p.timer);
        if (message.ok) p.resolve(message.value);
        else {
          const refusal = readRefusal(message.value);
          p.reject(new CommandError(refusal.message, refusal.code));
        }
        return;
      }
      case 'key-update':
        this.takeKeyUpdate(openKeyUpdate(message.signed, this.profile.hub, this.profile.device.deviceId));
        return;
      case 'notice':
        if (message.value.type === 'blob') {
          const { id, index, data } = message.value;
          if (!this.blobs.has(id) && this.blobs.size >= 4) return; // at most a few answers at once
          const parts = this.blobs.get(id) ?? new Map<number, Uint8Array>();
          if (parts.size >= 512 || !Number.isSafeInteger(index) || index < 0) return; // bounded: 18 MiB
          parts.set(index, fromBase64url(data));
          this.blobs.set(id, parts);
          return;
        }
        if (message.value.type === 'paths') {
          // The hub's LAN endpoints, remembered for next time (and probed while on a relay).
          const lan = message.value.lan.filter((u) => /^wss?:\/\//.test(u)).slice(0, 4);
          this.pathsHeard = true;
          const waiters = this.pathsWaiters.splice(0);
          if (this.profile.lanUrls === undefined || JSON.stringify(lan) !== JSON.stringify(this.profile.lanUrls)) {
            this.profile.lanUrls = lan;
            this.opts.onProfileChanged?.(this.profile);
          }
          if (this.candidate.kind === 'relay' && lan.includes(this.candidate.url)) {
            // A fresh profile lists the hub's LAN endpoint among its relays (the invite does, so
            // that pairing works at home without the internet); now we know which one it is.
            const relayOnly = (this.opts.path ?? 'auto') === 'relay';
            const relay = relayOnly ? this.candidates()[0] : undefined;
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
          if (this.probeTimer === undefined && lan.length > 0 && (this.opts.path ?? 'auto') === 'auto') {
            this.probeTimer = setInterval(() => void this.probeLan(), LAN_PROBE_MS);
          }
        }
        if (message.value.type === 'clock') {
          this.clock.notice(message.value.hubTime);
          if (this.clock.remeasure) this.remeasure();
        }
        if (message.value.type === 'removed') {
          this.session = undefined;
          this.setState('removed', 'this phone was removed from the hub');
        }
        this.opts.onNotice?.(message.value);
        return;
      case 'command':
        // Hubs do not send commands to phones.
        this.counters.malformed++;
        return;
    }
  }

  /**
   * Subscribes, retrying briefly: in a relay cluster the hub's capability for this phone can reach
   * our node a moment after we ask.
   */
  private async subscribe(topic: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.subscribe(this.profile.hub.relayKey, topic);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'no-capability' || attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
      }
    }
  }

  /** On a new path (or after a hub restart): subscribe there again and ask for the latest GOP. */
  private rewatch(): void {
    const round = ++this.rewatchRound;
    for (const [topic, { camera, opts }] of this.watched) void this.rewatchOne(round, topic, camera, opts);
  }

  /**
   * After a relay restart the phone can be back before the hub: the relay then refuses the
   * subscription (the hub has not re-granted it yet) and the watch command (the hub is offline).
   * Both are tried again for a while, so the stream comes back once the hub does; a newer round
   * (another reconnect) or unwatching ends this one.
   */
  private async rewatchOne(round: number, topic: string, camera: CameraInfo, opts: WatchOptions): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed || round !== this.rewatchRound || !this.watched.has(topic)) return;
      try {
        // Not this.subscribe(): its own retries would nest inside these.
        await this.client.subscribe(this.profile.hub.relayKey, fromHexId(topic));
        await this.watchCommand(camera, opts);
        return;
      } catch {
        if (attempt >= REWATCH_RETRY_MS.length || this.closed) return;
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            clearTimeout(timer);
            this.rewatchWaits.delete(stop);
            resolve();
          };
          const timer = setTimeout(stop, REWATCH_RETRY_MS[attempt]);
          this.rewatchWaits.add(stop);
        });
      }
    }
  }

  private takeKeyUpdate(update: KeyUpdate): void {
    // Epochs are hub-wide and every stream changes key at once: an update older than the newest one
    // taken is a replay, even for a stream that update lacked (an h264 profile keyed mid-epoch).
    const floor = this.profile.epochFloor ?? -1;
    if (update.epoch < floor) {
      this.counters.replayed++;
      return;
    }
    if (update.epoch > floor) {
      this.opener.removeKeysBefore(update.epoch);
      this.profile.epochFloor = update.epoch;
      this.opts.onProfileChanged?.(this.profile);
    }
    for (const c of update.cameras) {
      try {
        this.opener.addKey({ hubId: update.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: update.epoch, key: c.key });
      } catch (e) {
        // An older epoch than one we hold is a replay; keep the newer key.
        this.count(e);
      }
    }
    if (update.epoch > this.epoch) {
      this.epoch = update.epoch;
      this.opts.onKeyUpdate?.(update.epoch);
    }
  }

  private onMedia(m: MediaMessage): void {
    if (!equalBytes(m.hubRelayId, this.profile.hub.relayKey)) {
      this.counters.notForMe++;
      return;
    }
    this.counters.relayDropped += m.dropped;
    try {
      this.openFrame(m.payload);
    } catch (e) {
      this.count(e);
    }
  }

  private openFrame(wire: Uint8Array): void {
    const frame = this.opener.open(wire);
    this.counters.opened++;
    if (frame.frameType !== 'init') this.clock.frame(frame.cameraNumber, frame.captureTime);
    this.opts.onFrame?.(frame);
  }

  private count(e: unknown): void {
    if (!isCryptoError(e)) {
      this.counters.malformed++;
      return;
    }
    switch ((e as CryptoError).code) {
      case 'not-for-me':
        this.counters.notForMe++;
        return;
      case 'replayed':
        this.counters.replayed++;
        return;
      case 'tampered':
        this.counters.tampered++;
        return;
      default:
        this.counters.malformed++;
    }
  }
}

function watchArgs(camera: CameraInfo, opts: WatchOptions): WatchArgs {
  return opts.profile === undefined ? { camera: camera.id } : { camera: camera.id, profile: opts.profile };
}

function fromHexId(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new CommandError('bad camera topic from hub');
  return fromHex(hex);
}

/** Relay URLs as the relay client uses them (`ws://HOST:PORT` is `.../v1`); a bad one is left for it to refuse. */
function normalised(url: string): string {
  try {
    return normaliseRelayUrl(url);
  } catch {
    return url;
  }
}
