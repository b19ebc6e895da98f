// A paired phone's live link to its hub, over any transport that speaks the relay protocol (the
// cloud relay, or the hub's LAN endpoint). It keeps a Noise session with the hub, sends signed
// commands, takes key updates, and opens frames. Everything the relay hands it is checked end to
// end: frames and key updates addressed elsewhere are "not for me" and skipped, never shown.
//
// This file only assembles the parts in link/ and routes what arrives to them: paths.ts (where the
// hub is reached, failover), session.ts (the Noise session), rpc.ts (commands and their answers),
// media.ts (watching, keys and frames), roster-sync.ts (the roster log every key update is checked
// against).
import { equalBytes } from '../../crypto/bytes.ts';
import type { Action } from '../../crypto/command.ts';
import { openKeyUpdate, openKeyUpdateOffline } from '../../crypto/keyupdate.ts';
import { Envelope, decodeEnvelope, type SessionMessage } from '../../crypto/messages.ts';
import type { ArgsOf, ResultOf } from '../../crypto/phone-commands.ts';
import type { Liveness } from './liveness.ts';
import { CommandError, type CameraInfo, type HubLinkOptions, type LinkCounters, type LinkState, type PathKind, type WatchOptions } from './link/api.ts';
import { Media } from './link/media.ts';
import { Paths } from './link/paths.ts';
import { Rpc } from './link/rpc.ts';
import { HubSession } from './link/session.ts';
import { RosterSync } from './link/roster-sync.ts';
import type { RosterCheck } from './roster.ts';
import { realTimers, type LinkTimers } from './link/timers.ts';

export { CommandError, streamOf } from './link/api.ts';
export type { CameraInfo, HubLinkOptions, LinkCounters, LinkState, PathKind, PathMode, StreamProfile, WatchOptions } from './link/api.ts';
export { REKEY_AFTER_MS } from './link/session.ts';
export type { LinkTimers, Timer } from './link/timers.ts';

export class HubLink {
  readonly counters: LinkCounters;
  private readonly timers: LinkTimers;
  private readonly paths: Paths;
  private readonly session: HubSession;
  private readonly rpc: Rpc;
  private readonly media: Media;
  private readonly roster: RosterSync;

  constructor(private readonly opts: HubLinkOptions) {
    this.timers = opts.timers ?? realTimers;
    const now = opts.liveness?.now ?? this.timers.now;
    this.paths = new Paths(opts, this.timers, now, {
      onMessage: (from, payload) => this.onDirect(from, payload),
      onMedia: (m) => this.media.onMedia(m),
      onUp: () => this.onPathUp(),
      onDown: () => this.session.pathDown(),
      watching: () => this.media.watching,
      removed: () => this.session.state === 'removed',
    });
    this.session = new HubSession(opts, this.timers, this.paths, {
      keyUpdate: (signed) => this.roster.keyUpdate(openKeyUpdate(signed, opts.profile.hub, opts.profile.device.deviceId)),
      // After a hub restart, ask again for what we were watching; with nothing to watch (or after
      // a re-key), say one thing in the new session so the hub knows it is ours (it keeps the old
      // one until then).
      began: (rekeyed) => {
        void this.roster.sync();
        if (this.media.watching && !rekeyed) this.media.rewatch();
        else this.command('list-cameras').catch(() => undefined);
      },
    });
    // Commands need the session only; watching waits for the roster check too (ready()), so the
    // key update it holds back is taken before the first frames arrive.
    this.rpc = new Rpc(opts, this.timers, this.paths, this.session, () => this.sessionReady());
    this.media = new Media(opts, this.timers, now, this.paths, this.rpc, () => this.ready());
    this.roster = new RosterSync(opts, this.rpc, (update) => this.media.takeKeyUpdate(update));
    this.counters = this.media.counters;
    this.paths.start();
  }

  /** The path in use: 'lan' ("at home") or 'relay' ("through relay"). */
  get path(): PathKind {
    return this.paths.candidate.kind;
  }

  get pathUrl(): string {
    return this.paths.candidate.url;
  }

  /** This phone's device id on its hub (its roster entry says what it may see). */
  get deviceId(): Uint8Array {
    return this.opts.profile.device.deviceId;
  }

  get linkState(): LinkState {
    return this.session.state;
  }

  /** The roster log as this phone checked it: members, safety code, alerts. */
  get rosterLog(): RosterCheck {
    return this.roster.check;
  }

  /** Fetches and checks what the roster log gained since this phone last looked. */
  syncRoster(): Promise<void> {
    return this.roster.sync();
  }

  /** Key updates refused for a roster not in the log, and log entries refused as a fork. */
  get rosterCounters(): { rosterMismatch: number; rosterForked: number } {
    return this.roster.counters;
  }

  get currentEpoch(): number {
    return this.media.currentEpoch;
  }

  /**
   * Resolves when a session with the hub is up, on the path it will be used on: a relay-only link
   * first learns (or waits up to 2 s to learn) whether it came in on the hub's LAN endpoint.
   */
  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = this.timers.now() + timeoutMs;
    await this.sessionReady(timeoutMs);
    await this.roster.settled(Math.max(0, deadline - this.timers.now()), this.timers);
  }

  private async sessionReady(timeoutMs = 15_000): Promise<void> {
    const deadline = this.timers.now() + timeoutMs;
    await this.session.up(timeoutMs);
    await this.paths.settled(deadline);
  }

  /**
   * Sends a signed command and waits for the hub's answer. The answer comes inside the authenticated
   * session, from the hub itself: its shape is the hub's word (crypto/phone-commands.ts).
   */
  command<A extends Action>(action: A, ...args: ArgsOf<A> extends null ? [] : [ArgsOf<A>]): Promise<ResultOf<A>> {
    return this.rpc.command(action, ...args);
  }

  /** A JPEG from the camera (ONVIF), sent by the hub in chunks inside the session. */
  snapshot(camera: CameraInfo): Promise<Uint8Array> {
    return this.rpc.snapshot(camera);
  }

  /** A recorded segment's stored bytes (ciphertext; phone/core/recordings.ts opens them). */
  segment(cameraId: string, id: string): Promise<Uint8Array> {
    return this.rpc.segment(cameraId, id);
  }

  async listCameras(): Promise<CameraInfo[]> {
    const value = await this.command('list-cameras');
    if (!Array.isArray(value)) throw new CommandError('list-cameras: unexpected answer');
    return value;
  }

  /**
   * Subscribes first, then asks the hub for the init segment and latest GOP, so nothing falls
   * between. With a `profile` ('h264', 'mpeg1') it watches the hub's transcode of the camera instead
   * (the hub runs it while someone watches); its frames carry the profile's camera number.
   */
  watch(camera: CameraInfo, opts: WatchOptions = {}): Promise<void> {
    return this.media.watch(camera, opts);
  }

  /**
   * Whether what arrives of this stream is live: the newest picture's capture time against the
   * hub's clock, which only authenticated session messages carry (liveness.ts).
   */
  liveness(camera: CameraInfo, opts: WatchOptions = {}): Liveness {
    return this.media.liveness(camera, opts);
  }

  /** The hub's clock stepped forward (its machine's clock was set): liveness is unknown until measured. */
  get clockStepped(): boolean {
    return this.media.clockStepped;
  }

  unwatch(camera: CameraInfo, opts: WatchOptions = {}): Promise<void> {
    return this.media.unwatch(camera, opts);
  }

  async close(): Promise<void> {
    this.session.close();
    this.paths.close();
    this.media.close();
    this.rpc.close();
    this.session.setState('closed');
    await this.paths.client.close();
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * One LAN probe now. Not called here: test/e2e/path-choice.test.ts wraps it to count probes (and
   * runs it on its own interval); drop it once that test counts them through a public seam.
   */
  private probeLan(): Promise<void> {
    return this.paths.probeLan();
  }

  /** The path in use is up: a session we hold goes on there, and we say something on it. */
  private onPathUp(): void {
    if (!this.session.pathUp()) return;
    // The hub answers on the path a phone last spoke on, and re-sends the key update when that
    // changes: say something on the new path even with nothing to watch.
    if (this.media.watching) this.media.rewatch();
    else this.command('list-cameras').catch(() => undefined);
  }

  private onDirect(from: Uint8Array, payload: Uint8Array): void {
    // Only the hub talks to us directly; what else arrives is misrouted and is not opened.
    if (!equalBytes(from, this.opts.profile.hub.relayKey)) {
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
          this.session.onMessage2(env.body);
          break;
        case Envelope.SESSION_DATA: {
          const message = this.session.open(env.body);
          if (message !== undefined) this.onSessionMessage(message);
          break;
        }
        case Envelope.SESSION_RESET:
          this.session.onReset();
          break;
        case Envelope.KEY_UPDATE_OFFLINE:
          this.roster.keyUpdate(openKeyUpdateOffline(env.body, this.opts.profile.device, this.opts.profile.hub));
          break;
        case Envelope.FRAME:
          this.media.openFrame(env.body);
          break;
        default:
          this.counters.malformed++;
      }
    } catch (e) {
      this.media.count(e);
    }
  }

  /** A message inside the session: authenticated, from the hub. */
  private onSessionMessage(message: SessionMessage): void {
    switch (message.kind) {
      case 'result':
        this.rpc.onResult(message);
        return;
      case 'key-update':
        this.roster.keyUpdate(openKeyUpdate(message.signed, this.opts.profile.hub, this.opts.profile.device.deviceId));
        return;
      case 'notice': {
        const notice = message.value;
        if (notice.type === 'blob') {
          this.rpc.onBlob(notice);
          return;
        }
        if (notice.type === 'paths') this.paths.onPathsNotice(notice.lan);
        if (notice.type === 'clock') this.media.onClock(notice.hubTime);
        if (notice.type === 'removed') this.session.removed();
        if (notice.type === 'roster-changed') void this.roster.sync();
        this.opts.onNotice?.(notice);
        return;
      }
      case 'command':
        // Hubs do not send commands to phones.
        this.counters.malformed++;
        return;
    }
  }
}
