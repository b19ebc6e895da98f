// The hub: loads its identity and store, starts a new key epoch, supervises the cameras, keeps its
// relay link, and answers phones. Headless (`vigil hub`) and the Electron app run this same class.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../crypto/sodium.ts';
import { exportHubIdentity, importHubIdentity, newHubIdentity, sign, type HubIdentity } from '../crypto/identity.ts';
import { ROLE_ALLOWS, type Command } from '../crypto/command.ts';
import { sealKeyUpdateOffline } from '../crypto/keyupdate.ts';
import { toBase64url } from '../crypto/bytes.ts';
import { Envelope, encodeEnvelope } from '../crypto/messages.ts';
import type { FrameType } from '../crypto/frame.ts';
import { decodeCertificate } from '../crypto/certificate.ts';
import { startRelay, type RelayHandle } from '../relay/server.ts';
import { normaliseRelayUrl, type RelayFailure } from '../relay/client.ts';
import { HubLinks, type Link } from './hub-links.ts';
import { LanAnnouncer, lanHostAddress } from './lan-announce.ts';
import { FLAG_INIT, FLAG_KEYFRAME, RIGHT_COMMAND, RIGHT_WATCH, signCapability } from '../relay/codec.ts';
import { resolveFfmpeg, type FfmpegInfo } from '../native/ffmpeg.ts';
import type { IngestSource, IngestState, IngestTiming } from '../native/ingest.ts';
import { CameraFeed, type FeedTuning } from './media/camera-feed.ts';
import { H264Profile, PROFILE_H264, needsH264Profile, profileNumber } from './media/profile-feed.ts';
import { checkPtzArgs, ptz, snapshot } from './onvif/camera-control.ts';
import { isOnvifError } from './onvif/errors.ts';
import { PtzQueue } from './onvif/ptz-queue.ts';
import { EpochKeys } from './epoch-keys.ts';
import { hexToBytes } from './hex.ts';
import { PairingDesk, type InviteStatus } from './pairing-desk.ts';
import { CommandRefused, PhoneSessions } from './phone-sessions.ts';
import { openStore, type Camera, type Device, type EpochReason, type Store } from './store/db.ts';
import type { KeyProtector } from './store/sealed.ts';
import { startLocalApi, type LocalApi } from './api/local-api.ts';
import { HubError } from './api/errors.ts';
import { HubService } from './api/service.ts';
import type { CameraInfo } from '../contract/hub-ui.ts';

export const HUB_FILE = 'hub.json';
export const TOKEN_FILE = 'api-token';
/** Capabilities are re-granted at every relay login; this only bounds a leaked one. */
const CAPABILITY_LIFETIME_S = 7 * 24 * 3600;
const DAILY_EPOCH_MS = 24 * 3600 * 1000;
/** How often phones that watch get the hub's clock (a phone calls a picture late after 5 s). */
const CLOCK_NOTICE_MS = 5_000;
/** Raw bytes per snapshot chunk: base64 of it fits one session message with room to spare. */
const SNAPSHOT_CHUNK_BYTES = 36 * 1024;

export interface HubOptions {
  dataDir: string;
  relays: readonly string[];
  /** Local API (and UI) address; port 0 picks one. */
  apiHost?: string;
  apiPort?: number;
  /** Base URL of the phone app, for pairing links that open it. */
  appUrl?: string;
  ingestTiming?: Partial<IngestTiming>;
  /** How much video goes into one fragment, in ms (native/ingest.ts DEFAULT_FRAGMENT_MS; 0 = one per frame). */
  fragmentMs?: number;
  log?: (line: string) => void;
  /**
   * The LAN endpoint: the relay protocol served by the hub itself for phones at home. `announce`
   * publishes it with mDNS (multicast: only on networks you own; tests run it in namespaces).
   */
  lan?: { host: string; port: number; announce?: boolean; advertisedHost?: string };
  /** Serves non-API requests on the local API port (the headless UI), after the token check. */
  uiHandler?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
  /** Wraps the store's data key (the Electron app passes one backed by safeStorage). */
  keyProtector?: KeyProtector;
}

/** A local viewer on the hub itself (the UI's live tiles): plaintext fMP4, never leaves the process. */
export interface LocalViewer {
  onInit(data: Uint8Array, mime: string): void;
  onFragment(data: Uint8Array, keyframe: boolean): void;
  /** The camera was removed or the hub is closing. */
  onEnd?(): void;
}

/** A camera as the UI sees it (the contract's CameraInfo), and what phones are told besides. */
export interface CameraStatus extends CameraInfo {
  topic: string;
  /** Streams the hub makes from this camera on demand (the h264 profile of an H.265 camera). */
  profiles?: ProfileStatus[];
}

export interface ProfileStatus {
  name: string;
  number: number;
  topic: string;
  /** Whether its transcoder runs now (only while a phone watches, plus a grace period). */
  running: boolean;
  state: IngestState['state'];
  error?: string;
  mime: string;
  codecs: string;
  watchers: number;
  starts: number;
  fragments: number;
}

interface LiveCamera {
  camera: Camera;
  feed: CameraFeed;
  /** Made once the camera's codec is known to be one browsers may lack (H.265). */
  profile?: H264Profile;
  /** Phones that asked for the profile before its transcoder had an init segment. */
  profileWaiting: Map<string, Device>;
}

/** One sealed stream: a camera's own video, or one of its profiles (own number, key and topic). */
interface Stream {
  readonly number: number;
  readonly topic: string;
  readonly feed: CameraFeed;
}

export class Hub {
  readonly store: Store;
  readonly identity: HubIdentity;
  readonly keys: EpochKeys;
  readonly desk: PairingDesk;
  readonly sessions: PhoneSessions;
  readonly links: HubLinks;
  /** The calls of the UI and the command line (contract/hub-ui.ts), for the local API and Electron IPC. */
  readonly service: HubService = new HubService(this);
  #cameras = new Map<number, LiveCamera>();
  readonly #ptz = new PtzQueue();
  #localViewers = new Map<number, Set<LocalViewer>>();
  #ffmpeg: FfmpegInfo | undefined;
  #ffmpegError: string | undefined;
  #api: LocalApi | undefined;
  #dailyTimer: ReturnType<typeof setInterval> | undefined;
  #clockTimer: ReturnType<typeof setInterval> | undefined;
  /** Phones that watch, with the topics they asked for: they get the hub's clock notice. */
  readonly #watching = new Map<string, Set<string>>();
  #lan: { relay: RelayHandle; link: Link; url: string; announce?: LanAnnouncer } | undefined;
  #closed = false;
  readonly #log: (line: string) => void;
  readonly #relays: readonly string[];
  /** The link state last logged ('down' for connecting and waiting alike). */
  readonly #loggedState = new Map<Link, string>();

  private constructor(private readonly opts: HubOptions, store: Store, identity: HubIdentity) {
    this.store = store;
    this.identity = identity;
    this.#log = opts.log ?? (() => undefined);
    // `ws://HOST:PORT` means `ws://HOST:PORT/v1`: invites, the UI and the link all carry that form.
    this.#relays = opts.relays.map((url) => {
      try {
        return normaliseRelayUrl(url);
      } catch {
        throw new Error(`relay URL ${JSON.stringify(url)} is not a ws:// or wss:// URL`);
      }
    });
    this.keys = new EpochKeys(identity);
    this.links = new HubLinks(identity, {
      onMessage: (from, payload, via) => this.sessions.onMessage(from, payload, via),
      onMailboxMessage: (id, from, payload, via) => this.desk.onMailboxMessage(id, from, payload, via),
      onReady: (via) => this.#onLinkReady(via),
      onState: (via, state) => {
        // 'connecting' and 'waiting' alternate on every retry: one line per down period, and the
        // reason (onFailure) once per change, rather than a line per attempt.
        const down = state === 'connecting' || state === 'waiting';
        const wasDown = this.#loggedState.get(via) === 'down';
        this.#loggedState.set(via, down ? 'down' : state);
        if (!(down && wasDown)) this.#log(`${via.kind === 'lan' ? 'lan endpoint' : 'relay'}: ${state}`);
      },
      onFailure: (via, f) => this.#log(`${via.kind === 'lan' ? 'lan endpoint' : 'relay'}: cannot connect to ${f.url}: ${f.message} [${f.code}]; retrying`),
      // Includes fragments over a relay's frame limit, which the relay client refuses to send.
      onError: (e) => this.#log(`relay link: ${e instanceof Error ? e.message : String(e)}`),
    });
    if (this.#relays.length > 0) this.links.add('relay', this.#relays);
    const transport = {
      send: async (to: Uint8Array, payload: Uint8Array) => {
        const link = this.links.all.find((l) => l.state === 'ready');
        if (link === undefined) throw new Error('no relay connection');
        await link.send(to, payload);
      },
      openMailbox: async (id: Uint8Array, expiresAt: number) => {
        if (this.links.all.length === 0) throw new HubError('conflict', 'this hub has no relay and no LAN endpoint: start it with --relay URL or --lan HOST:PORT to pair phones');
        await this.links.openMailbox(id, expiresAt);
      },
      closeMailbox: (id: Uint8Array) => this.links.closeMailbox(id),
    };
    this.desk = new PairingDesk(identity, store, transport, () => [...this.#lanUrls(), ...this.#relays], {
      onPaired: (device) => this.#onPaired(device),
      onStatus: (id, status) => this.#onInviteStatus(id, status),
    }, opts.appUrl);
    this.sessions = new PhoneSessions(identity, store, transport, (id) => this.keys.keyUpdateFor(id),
      (command, device) => this.#handleCommand(command, device), this.#log,
      (deviceId) => {
        // Always, an empty list too: a phone asked to use relays only waits for this to know that
        // the address it came in on is not the LAN endpoint (PROTOCOL §12.1).
        this.sessions.notify(deviceId, { type: 'paths', lan: this.#lan !== undefined ? [this.#lan.url] : [] });
      });
  }

  static async start(opts: HubOptions): Promise<Hub> {
    await cryptoReady();
    const store = openStore(opts.dataDir, opts.keyProtector ? { keyProtector: opts.keyProtector } : {});
    const identity = importHubIdentity(store.getOrCreateHubIdentity(() => exportHubIdentity(newHubIdentity())));
    const hub = new Hub(opts, store, identity);
    await hub.#start();
    return hub;
  }

  async #start(): Promise<void> {
    if (this.opts.lan !== undefined) await this.#startLan();
    try {
      this.#ffmpeg = await resolveFfmpeg();
    } catch (e) {
      this.#ffmpegError = e instanceof Error ? e.message : String(e);
      this.#log(`warning: ${this.#ffmpegError}`);
    }
    this.desk.expireStaleInvites();
    // A new epoch on every start: content keys live only in memory, so counters restart safely.
    this.#newEpoch('start');
    for (const camera of this.store.listCameras()) this.#startCamera(camera);
    this.#dailyTimer = setInterval(() => this.#newEpoch('daily'), DAILY_EPOCH_MS);
    this.#dailyTimer.unref();
    this.#clockTimer = setInterval(() => this.#sendClock(), CLOCK_NOTICE_MS);
    this.#clockTimer.unref();
    await this.#startApi();
  }

  // ---------------------------------------------------------------------------------------------
  // Keys and roster

  #roster(): Device[] {
    return this.store.listDevices();
  }

  /** Starts a new epoch and hands every phone still on the roster its keys (T2, T3). */
  #newEpoch(reason: EpochReason): void {
    const epoch = this.store.nextEpoch(reason);
    const cameras = this.store.listCameras();
    const profiles = cameras.flatMap((c) => {
      const profile = this.#cameras.get(c.number)?.profile;
      return profile ? [{ id: c.id, number: profile.number }] : [];
    });
    this.keys.begin(epoch, [...cameras, ...profiles], this.#roster().map((d) => ({ deviceId: hexToBytes(d.id), role: d.role })));
    // Init segments are re-sealed under the new epoch for current watchers.
    for (const live of this.#cameras.values()) {
      for (const stream of this.#streams(live)) {
        const init = stream.feed.init;
        if (init !== undefined && this.#watched(stream)) this.#publish(stream, 'init', init.data, Date.now(), FLAG_INIT);
      }
    }
    this.#deliverKeys(true);
    this.#log(`epoch ${epoch} (${reason})`);
  }

  /**
   * Hands every phone the current epoch's keys. After an epoch change (`epochChanged`) phones with a
   * session get them in a new one: the hub ends each session and asks for a new handshake, whose
   * message 2 carries them, so a key taken from an older session opens none of them (PROTOCOL 6.6).
   */
  #deliverKeys(epochChanged = false): void {
    if (this.keys.epoch < 0) return; // not started yet; the first epoch delivers
    const reached = this.sessions.sendKeyUpdates({ epochChanged });
    // Phones without a session (e.g. after a hub restart) get the update sealed to their X-Wing key.
    for (const d of this.#roster()) {
      if (reached.has(d.id)) continue;
      const cert = decodeCertificate(d.certificate, this.identity.signing.publicKey);
      const wire = sealKeyUpdateOffline(this.identity.hubId, { deviceId: cert.deviceId, pqKey: cert.pqKey }, this.keys.keyUpdateFor(cert.deviceId));
      this.links.sendEverywhere(hexToBytes(d.relayKey), encodeEnvelope(Envelope.KEY_UPDATE_OFFLINE, wire));
    }
  }

  async #grant(device: Device): Promise<void> {
    const cap = signCapability({
      hubRelayId: this.identity.relay.publicKey,
      deviceRelayId: hexToBytes(device.relayKey),
      // Every phone watches and sends commands (viewers too: list, watch); which commands a role may
      // run is decided end to end by crypto/command.ts, not by the relay.
      rights: RIGHT_WATCH | RIGHT_COMMAND,
      expiresAt: Math.floor(Date.now() / 1000) + CAPABILITY_LIFETIME_S,
    }, (m) => sign(this.identity.relay, m));
    await this.links.grant(cap);
  }

  async #onPaired(device: Device): Promise<void> {
    await this.#grant(device).catch((e: unknown) => this.#log(`grant failed: ${String(e)}`));
    this.#newEpoch('device-added');
  }

  #onInviteStatus(id: string, status: InviteStatus): void {
    if (status.state === 'confirm') this.#log(`invite ${id.slice(0, 8)}: "${status.name}" shows code ${status.code}`);
  }

  /** Removes a phone: its relay capability goes, its session ends, and a new epoch starts at once. */
  async revokeDevice(id: string): Promise<boolean> {
    const device = this.store.getDevice(id);
    if (device === undefined) throw new HubError('not-found', 'no such phone');
    if (!this.store.revokeDevice(id)) return false;
    // Its PTZ moves still waiting are dropped, and one under way stops now.
    this.#ptz.withdraw(id);
    this.sessions.end(id, { type: 'removed' });
    // New keys before anything else is sealed: the next frame is already of the new epoch.
    this.#newEpoch('device-removed');
    this.store.audit('owner', 'revoked', { device: id, name: device.name });
    await this.links.revoke(hexToBytes(device.relayKey));
    return true;
  }

  #onLinkReady(_via: Link): void {
    for (const d of this.#roster()) void this.#grant(d).catch(() => undefined);
    this.#deliverKeys();
  }

  // ---------------------------------------------------------------------------------------------
  // The LAN endpoint

  #lanUrls(): string[] {
    return this.#lan ? [this.#lan.url] : [];
  }

  async #startLan(): Promise<void> {
    const lan = this.opts.lan;
    if (lan === undefined || this.#lan !== undefined) return;
    // The same relay server as in the cloud, with the same limits; this hub is just its first client.
    const relay = await startRelay({ host: lan.host, port: lan.port });
    const local = lan.host === '0.0.0.0' || lan.host === '::' ? '127.0.0.1' : lan.host;
    const link = this.links.add('lan', `ws://${local.includes(':') ? `[${local}]` : local}:${relay.port}/v1`);
    const host = lan.advertisedHost ?? (lan.host === '0.0.0.0' || lan.host === '::' ? lanHostAddress() : lan.host);
    const url = `ws://${host.includes(':') ? `[${host}]` : host}:${relay.port}/v1`;
    this.#lan = { relay, link, url };
    if (lan.announce) this.#lan.announce = new LanAnnouncer(this.identity.hubId, relay.port, host);
    this.#log(`lan endpoint: ${url}${lan.announce ? ' (announced with mDNS)' : ''}`);
  }

  async #stopLan(): Promise<void> {
    const lan = this.#lan;
    this.#lan = undefined;
    if (lan === undefined) return;
    await lan.announce?.stop();
    await this.links.remove(lan.link);
    await lan.relay.close();
  }

  /** Stops or starts the LAN endpoint (on the same port) while the hub runs. */
  async setLan(enabled: boolean): Promise<void> {
    if (this.opts.lan === undefined) throw new HubError('conflict', 'this hub was started without --lan');
    if (enabled) {
      const port = this.#lanPort ?? this.opts.lan.port;
      this.opts.lan = { ...this.opts.lan, port };
      await this.#startLan();
    } else {
      this.#lanPort = this.#lan?.relay.port;
      await this.#stopLan();
    }
  }
  #lanPort: number | undefined;

  get lanUrl(): string | undefined {
    return this.#lan?.url;
  }

  get relayState(): string {
    return this.links.find('relay')?.state ?? 'none';
  }

  /** Why the relay link is not connected (or its last connection ended), for status and the UI. */
  get relayProblem(): RelayFailure | undefined {
    return this.links.find('relay')?.failure;
  }

  // ---------------------------------------------------------------------------------------------
  // Cameras

  #sourceFor(camera: Camera): IngestSource {
    if (camera.kind === 'test-pattern') return { kind: 'test-pattern', size: '640x360', fps: 15 };
    return { kind: 'rtsp', url: this.store.cameraUrlWithCredentials(camera.id) };
  }

  #feedTuning(): FeedTuning {
    return {
      ...(this.opts.ingestTiming ? { timing: this.opts.ingestTiming } : {}),
      ...(this.opts.fragmentMs !== undefined ? { fragmentMs: this.opts.fragmentMs } : {}),
    };
  }

  #startCamera(camera: Camera): void {
    const live: LiveCamera = { camera, feed: undefined as unknown as CameraFeed, profileWaiting: new Map() };
    live.feed = new CameraFeed(camera.number, this.#sourceFor(camera), this.#ffmpeg, {
      onInit: (init) => {
        for (const v of this.#localViewers.get(camera.number) ?? []) v.onInit(init.data, `${init.mime}; codecs="${init.codecs.join(',')}"`);
        const native = this.#native(live);
        if (this.#watched(native)) this.#publish(native, 'init', init.data, Date.now(), FLAG_INIT);
        if (live.profile === undefined && needsH264Profile(init.codecs)) this.#addProfile(live);
      },
      onFragment: (f) => {
        for (const v of this.#localViewers.get(camera.number) ?? []) v.onFragment(f.data, f.keyframe);
        const native = this.#native(live);
        if (this.#watched(native)) this.#publish(native, f.keyframe ? 'keyframe' : 'delta', f.data, f.captureTime, f.keyframe ? FLAG_KEYFRAME : 0);
        // Subscribers on the profile's topic start it too, without a watch command (a phone still
        // subscribed across a hub restart, whose watch came before the profile existed). Checked
        // on the camera's keyframes: often enough, and no extra timer.
        const profile = live.profile;
        if (f.keyframe && profile !== undefined && !profile.running && this.#watched(profile)) profile.demand();
      },
      onState: (s) => {
        this.#log(`camera ${camera.number}: ${s.state}${s.error ? ` (${s.error})` : ''}`);
        this.sessions.notifyAll({ type: 'camera-state', camera: camera.id, state: s.state, ...(s.error ? { error: s.error } : {}) });
      },
    }, this.#feedTuning());
    this.#cameras.set(camera.number, live);
    live.feed.start();
  }

  /**
   * The camera's codec turned out to be H.265: from now on it also offers the h264 profile, under a
   * key of its own in this epoch (every phone gets the key update again) and in every later one.
   */
  #addProfile(live: LiveCamera): void {
    const camera = live.camera;
    const number = profileNumber(camera.number);
    if (number === undefined) return;
    const profile: H264Profile = new H264Profile(camera, live.feed.output, this.#ffmpeg, {
      onInit: (init) => {
        if (this.#watched(profile)) this.#publish(profile, 'init', init.data, Date.now(), FLAG_INIT);
        // Phones that asked while it was starting get the init segment now; the rest comes live.
        const waiting = [...live.profileWaiting.values()];
        live.profileWaiting.clear();
        for (const device of waiting) this.#sendStart(profile, device);
      },
      onFragment: (f) => {
        if (this.#watched(profile)) this.#publish(profile, f.keyframe ? 'keyframe' : 'delta', f.data, f.captureTime, f.keyframe ? FLAG_KEYFRAME : 0);
      },
      onState: (s) => {
        if (s.state === 'stopped') live.profileWaiting.clear();
        this.#log(`camera ${camera.number} ${PROFILE_H264} profile: ${s.state}${s.error ? ` (${s.error})` : ''}`);
      },
    }, { watchers: () => this.links.watchers(profile.topic), tuning: this.#feedTuning() });
    live.profile = profile;
    if (!this.keys.has(number)) {
      this.keys.addCamera({ id: camera.id, number });
      this.#deliverKeys();
    }
    this.sessions.notifyAll({ type: 'cameras-changed' });
  }

  #native(live: LiveCamera): Stream {
    return { number: live.camera.number, topic: live.camera.topic, feed: live.feed };
  }

  #streams(live: LiveCamera): Stream[] {
    return live.profile ? [this.#native(live), live.profile] : [this.#native(live)];
  }

  #seal(stream: Stream, frameType: FrameType, data: Uint8Array, captureTime: number): Uint8Array | undefined {
    const sealer = this.keys.sealer(stream.number);
    if (sealer === undefined) return undefined;
    return sealer.seal({ track: 'video', captureTime, frameType, payload: data });
  }

  readonly #payloadRoom = (size: number): Uint8Array => this.links.payloadRoom(size);

  #publish(stream: Stream, frameType: FrameType, data: Uint8Array, captureTime: number, flags: number): void {
    const sealer = this.keys.sealer(stream.number);
    if (sealer === undefined) return;
    // Sealed straight into the links' send buffer: no array of its own per fragment.
    const wire = sealer.sealInto({ track: 'video', captureTime, frameType, payload: data }, this.#payloadRoom);
    this.links.publish(stream.topic, flags, wire);
  }

  /** A stream is sent to the relay only while someone watches it there. */
  #watched(stream: Stream): boolean {
    return this.links.watchers(stream.topic) > 0;
  }

  /** Sends one phone the init segment and the GOP so far, sealed, so its picture starts at once. */
  #sendStart(stream: Stream, device: Device): void {
    const via = this.sessions.linkOf(device.id);
    if (via === undefined) return;
    const to = hexToBytes(device.relayKey);
    const init = stream.feed.init;
    if (init === undefined) return;
    const frames: [FrameType, Uint8Array, number][] = [['init', init.data, Date.now()]];
    // The GOP only if every phone on the roster was on it when the GOP began: after a removal or the
    // daily rotation the first tap is instant (sealed under the new epoch, which a removed phone has
    // no key of: T2), but a phone added now gets nothing captured before (T3). EpochKeys.sharedSince.
    const gop = stream.feed.gop;
    if (gop.length > 0 && gop[0]!.captureTime >= this.keys.sharedSince) {
      for (const f of gop) frames.push([f.keyframe ? 'keyframe' : 'delta', f.data, f.captureTime]);
    }
    for (const [type, data, at] of frames) {
      const wire = this.#seal(stream, type, data, at);
      if (wire !== undefined) void via.send(to, encodeEnvelope(Envelope.FRAME, wire)).catch(() => undefined);
    }
  }

  addCamera(input: { name: string; url: string; kind?: 'rtsp' | 'test-pattern' }): Camera {
    const camera = this.store.addCamera(input);
    this.store.audit('owner', 'camera-added', { camera: camera.id });
    // The new camera needs a key in this epoch: start a new one so every phone gets it.
    this.#newEpoch('camera-added');
    this.#startCamera(camera);
    this.sessions.notifyAll({ type: 'cameras-changed' });
    return camera;
  }

  async removeCamera(idOrName: string): Promise<boolean> {
    const camera = this.store.getCamera(idOrName);
    // The store still finds a removed camera by its id: removing it again does nothing.
    if (camera === undefined || camera.removedAt !== null) return false;
    const live = this.#cameras.get(camera.number);
    this.#cameras.delete(camera.number);
    for (const v of this.#localViewers.get(camera.number) ?? []) v.onEnd?.();
    this.#localViewers.delete(camera.number);
    await Promise.all([live?.feed.stop(), live?.profile?.close()]);
    this.store.removeCamera(camera.id);
    this.store.audit('owner', 'camera-removed', { camera: camera.id });
    this.#newEpoch('camera-removed');
    this.sessions.notifyAll({ type: 'cameras-changed' });
    return true;
  }

  /**
   * Local viewing on the hub (the UI's tiles): the init segment and the GOP so far at once, then
   * every fragment. Plaintext, in-process only: the hub is the root of trust and the UI server
   * serves it on the token-guarded local API port. Returns the function that stops it.
   */
  watchLocal(idOrName: string, viewer: LocalViewer): () => void {
    const camera = this.store.getCamera(idOrName);
    const live = camera && this.#cameras.get(camera.number);
    if (!camera || !live) throw new HubError('not-found', 'no such camera');
    let viewers = this.#localViewers.get(camera.number);
    if (viewers === undefined) this.#localViewers.set(camera.number, (viewers = new Set()));
    viewers.add(viewer);
    const init = live.feed.init;
    if (init !== undefined) {
      viewer.onInit(init.data, `${init.mime}; codecs="${init.codecs.join(',')}"`);
      for (const f of live.feed.gop) viewer.onFragment(f.data, f.keyframe);
    }
    return () => {
      viewers.delete(viewer);
      if (viewers.size === 0) this.#localViewers.delete(camera.number);
    };
  }

  renameCamera(idOrName: string, name: string): Camera {
    const before = this.store.getCamera(idOrName);
    if (before === undefined) throw new HubError('not-found', 'no such camera');
    const camera = this.store.renameCamera(before.id, name);
    const live = this.#cameras.get(camera.number);
    if (live !== undefined) live.camera = camera;
    this.store.audit('owner', 'camera-renamed', { camera: camera.id, from: before.name, to: camera.name });
    this.sessions.notifyAll({ type: 'cameras-changed' });
    return camera;
  }

  /** The relay this hub uses (the first given), for the UI. */
  get relayUrl(): string | undefined {
    return this.#relays[0];
  }

  cameraStatus(): CameraStatus[] {
    return this.store.listCameras().map((camera) => {
      const live = this.#cameras.get(camera.number);
      const init = live?.feed.init;
      const state = live?.feed.state;
      return {
        id: camera.id, name: camera.name, number: camera.number, topic: camera.topic, url: camera.url, kind: camera.kind,
        state: state?.state ?? 'stopped',
        ...(state?.error ? { error: state.error } : {}),
        ...(init ? { mime: init.mime, codecs: init.codecs.join(','), width: init.width, height: init.height } : {}),
        watchers: this.links.watchers(camera.topic),
        fragments: live?.feed.fragments ?? 0,
        bytes: live?.feed.bytes ?? 0,
        ...(live?.profile ? { profiles: [this.#profileStatus(live.profile, init?.codecs ?? [])] } : {}),
      };
    });
  }

  #profileStatus(profile: H264Profile, nativeCodecs: readonly string[]): ProfileStatus {
    const state = profile.feed.state;
    const { mime, codecs } = profile.describe(nativeCodecs);
    return {
      name: profile.name, number: profile.number, topic: profile.topic, running: profile.running,
      state: state.state, ...(state.error ? { error: state.error } : {}), mime, codecs,
      watchers: this.links.watchers(profile.topic), starts: profile.starts, fragments: profile.feed.fragments,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Phone commands (already authorised by crypto/command.ts)

  async #handleCommand(command: Command, device: Device): Promise<unknown> {
    const args = (command.args ?? {}) as { camera?: unknown; profile?: unknown };
    const cameraArg = () => {
      const id = typeof args.camera === 'string' ? args.camera : '';
      const camera = this.store.getCamera(id);
      const live = camera && this.#cameras.get(camera.number);
      if (!camera || !live) throw new CommandRefused('no such camera');
      return live;
    };
    /** The stream a watch names: the camera's own, or its h264 profile (`profile: 'h264'`). */
    const profileArg = (live: LiveCamera): H264Profile | undefined => {
      if (args.profile === undefined) return undefined;
      if (args.profile !== PROFILE_H264) throw new CommandRefused('unknown profile (this hub makes only "h264")');
      if (live.profile === undefined) throw new CommandRefused('this camera has no h264 profile (it sends H.264 already, or has not started yet)');
      return live.profile;
    };
    switch (command.action) {
      case 'list-cameras': {
        // ONVIF cameras (added from discovery) may take snapshots and PTZ; the camera says if not.
        const onvif = new Set(this.store.listCameras().filter((c) => c.onvifPin !== null).map((c) => c.id));
        return this.cameraStatus().map((c) => ({
          id: c.id, name: c.name, number: c.number, topic: c.topic, state: c.state,
          ...(c.mime ? { mime: c.mime, codecs: c.codecs } : {}),
          // The profile's mime and codecs are a guess (avc1.640028) until its transcoder first ran.
          ...(c.profiles ? { profiles: c.profiles.map((p) => ({ name: p.name, topic: p.topic, number: p.number, mime: p.mime, codecs: p.codecs })) } : {}),
          ptz: onvif.has(c.id),
          snapshot: onvif.has(c.id),
        }));
      }
      case 'watch': {
        const live = cameraArg();
        const profile = profileArg(live);
        if (profile === undefined) this.#sendStart(this.#native(live), device);
        else {
          // Starts the transcoder if it is not running; the phone gets the init segment and GOP now,
          // or as soon as the transcoder has them.
          profile.demand();
          if (profile.feed.init !== undefined) this.#sendStart(profile, device);
          else live.profileWaiting.set(device.id, device);
        }
        this.store.audit(device.id, 'watched', { camera: live.camera.id, ...(profile ? { profile: profile.name } : {}) });
        const topics = this.#watching.get(device.id) ?? new Set<string>();
        topics.add(profile?.topic ?? live.camera.topic);
        this.#watching.set(device.id, topics);
        // hubTime: the phone's round trip to this answer bounds the hub's clock (PROTOCOL §11.4).
        return { ok: true, epoch: this.keys.epoch, hubTime: Date.now(), ...(profile ? { profile: profile.name, number: profile.number } : {}) };
      }
      case 'unwatch': {
        // The relay tells the hub when a topic has no watchers left; a profile stops after its grace.
        const live = cameraArg();
        const topic = profileArg(live)?.topic ?? live.camera.topic;
        const topics = this.#watching.get(device.id);
        topics?.delete(topic);
        if (topics?.size === 0) this.#watching.delete(device.id);
        return { ok: true };
      }
      case 'snapshot': {
        const live = cameraArg();
        const jpeg = await this.#onvif(() => snapshot(this.store, live.camera.id));
        this.store.audit(device.id, 'snapshot', { camera: live.camera.id });
        // A JPEG is larger than one session message: it goes as numbered chunks, then the result.
        const chunks = Math.ceil(jpeg.length / SNAPSHOT_CHUNK_BYTES);
        for (let i = 0; i < chunks; i++) {
          this.sessions.notify(device.id, {
            type: 'blob', id: String(command.seq), index: i,
            data: toBase64url(jpeg.subarray(i * SNAPSHOT_CHUNK_BYTES, (i + 1) * SNAPSHOT_CHUNK_BYTES)),
          });
        }
        return { blob: String(command.seq), chunks, bytes: jpeg.length, type: 'image/jpeg' };
      }
      case 'ptz': {
        const live = cameraArg();
        const a = command.args as { move?: unknown; seconds?: unknown; stop?: unknown; preset?: unknown };
        const ptzArgs = {
          ...(Array.isArray(a.move) ? { move: a.move as [number, number, number] } : {}),
          ...(typeof a.seconds === 'number' ? { seconds: a.seconds } : {}),
          ...(a.stop === true ? { stop: true } : {}),
          ...(typeof a.preset === 'string' || typeof a.preset === 'number' ? { preset: a.preset } : {}),
        };
        await this.#onvif(async () => {
          checkPtzArgs(ptzArgs);
          // One PTZ action at a time per camera, a few per phone; asked again when its turn comes.
          const mayStillSteer = () => {
            const d = this.store.getDevice(device.id);
            return d !== undefined && d.revokedAt === null && ROLE_ALLOWS[d.role].includes('ptz');
          };
          await this.#ptz.run(device.id, live.camera.id, mayStillSteer, (signal) => ptz(this.store, live.camera.id, ptzArgs, { signal }));
        });
        this.store.audit(device.id, 'ptz', { camera: live.camera.id, ...(ptzArgs.stop ? { stop: true } : {}), ...(ptzArgs.preset !== undefined ? { preset: String(ptzArgs.preset) } : {}) });
        return { ok: true };
      }
      case 'settings':
        throw new CommandRefused('settings are changed on the hub');
    }
  }

  /**
   * The hub's clock to every phone that watches, inside its session. A phone whose topics nobody
   * watches any more (it left without unwatching) or that was removed is dropped from the list.
   */
  #sendClock(): void {
    for (const [id, topics] of this.#watching) {
      const device = this.store.getDevice(id);
      if (device === undefined || device.revokedAt !== null || [...topics].every((t) => this.links.watchers(t) === 0)) {
        this.#watching.delete(id);
        continue;
      }
      this.sessions.notify(id, { type: 'clock', hubTime: Date.now() });
    }
  }

  /** ONVIF failures become a refusal the phone can show (they name no secrets). */
  async #onvif<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (isOnvifError(e)) throw new CommandRefused(e.message);
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Local API

  async #startApi(): Promise<void> {
    const tokenPath = join(this.opts.dataDir, TOKEN_FILE);
    let token: string;
    if (existsSync(tokenPath)) token = readFileSync(tokenPath, 'utf8').trim();
    else {
      token = randomBytes(24).toString('base64url');
      writeFileSync(tokenPath, token + '\n', { mode: 0o600 });
    }
    chmodSync(tokenPath, 0o600);
    this.#api = await startLocalApi({
      host: this.opts.apiHost ?? '127.0.0.1',
      port: this.opts.apiPort ?? 0,
      token,
      service: this.service,
      ...(this.opts.uiHandler ? { fallback: this.opts.uiHandler } : {}),
      onError: (e) => this.#log(`api error: ${e instanceof Error ? e.message : String(e)}`),
    });
    writeFileSync(join(this.opts.dataDir, HUB_FILE), JSON.stringify({ url: this.#api.url, pid: process.pid }) + '\n', { mode: 0o600 });
  }

  get apiUrl(): string | undefined {
    return this.#api?.url;
  }

  /** The local API token (for the UI link printed on the hub's own terminal only). */
  get apiToken(): string {
    return readFileSync(join(this.opts.dataDir, TOKEN_FILE), 'utf8').trim();
  }

  get ffmpegProblem(): string | undefined {
    return this.#ffmpegError;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ptz.close();
    clearInterval(this.#dailyTimer);
    clearInterval(this.#clockTimer);
    for (const viewers of this.#localViewers.values()) for (const v of viewers) v.onEnd?.();
    this.#localViewers.clear();
    this.sessions.closeAll();
    await Promise.all([...this.#cameras.values()].flatMap((c) => [c.feed.stop(), c.profile?.close()]));
    await this.#api?.close();
    await this.links.close();
    await this.#stopLan();
    rmSync(join(this.opts.dataDir, HUB_FILE), { force: true });
    this.store.close();
  }
}
