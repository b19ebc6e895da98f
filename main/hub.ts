// The hub, composed: it builds the store, identity and keys, the relay links and LAN endpoint, the
// cameras and the media bus, the phone sessions and their command handlers, the pairing desk and the
// local API, and wires them. What each part does is in its own module; headless (`vigil hub`) and
// the Electron app run this same class.
import { cryptoReady } from '../crypto/sodium.ts';
import { exportHubIdentity, importHubIdentity, newHubIdentity, type HubIdentity } from '../crypto/identity.ts';
import type { Notice } from '../crypto/messages.ts';
import type { RelayFailure } from '../relay/client.ts';
import { findFfmpeg, type FfmpegInfo } from '../native/ffmpeg.ts';
import type { RosterReport, ScopeChange } from '../contract/hub-ui.ts';
import { HubLinks } from './hub-links.ts';
import { LanEndpoint } from './links/lan-endpoint.ts';
import { EpochKeys } from './epoch-keys.ts';
import { KeyDelivery } from './keys/key-delivery.ts';
import { PairingDesk } from './pairing-desk.ts';
import { PhoneSessions } from './phone-sessions.ts';
import { PhonePublisher } from './phones/publisher.ts';
import { phoneCommands } from './phones/commands/index.ts';
import { Watching } from './phones/commands/watch.ts';
import { removePhone } from './phones/removal.ts';
import { BY_HUB_OWNER, HubRosterLog, rosterReport } from './phones/roster-log.ts';
import { AccessWindows, ScopeGate, capabilityExpiry, changePhoneScope, visibleCameras } from './phones/scope.ts';
import { bytesToHex } from './hex.ts';
import { PtzQueue } from './onvif/ptz-queue.ts';
import { EventBus } from './events/hub-events.ts';
import { HubDetection } from './events/detect-hub.ts';
import { MediaBus } from './media/media-bus.ts';
import { LiveCameras, profileOf } from './media/live-cameras.ts';
import { Cameras } from './media/cameras.ts';
import { LocalViewers } from './media/local-viewers.ts';
import { openStore, type Device, type Store } from './store/db.ts';
import type { DeviceCertificate } from '../crypto/certificate.ts';
import type { HubOptions } from './hub-options.ts';
import { startLocalApi, type LocalApi } from './api/local-api.ts';
import { apiToken, removeHubFile, writeHubFile } from './api/hub-files.ts';
import { HubService } from './api/service.ts';
import { pairingTransport, relayLogger, relayUrls } from './links/relay-links.ts';
import { HubRecordings } from './recording/hub-recordings.ts';
import { composePush } from './push/compose.ts';
import type { HubPush } from './push/hub-push.ts';
import { HistoryShare } from './phones/commands/history-share.ts';
import { HubBackup } from './backup/service.ts';
import { HubEventStore } from './events/event-store.ts';

export type { HubOptions };

export class Hub {
  readonly keys: EpochKeys;
  readonly links: HubLinks;
  readonly desk: PairingDesk;
  readonly sessions: PhoneSessions;
  /** The calls of the UI and the command line (contract/hub-ui.ts), for the local API and Electron IPC. */
  readonly service: HubService = new HubService(this);
  readonly #bus: MediaBus;
  /** What detectors found (PROTOCOL §17): detectors publish, the events store, recorder and push consume. */
  readonly events: EventBus;
  /** Web Push to phones whose app is closed (PROTOCOL §17.3), on `events`; its delivery counters. */
  readonly push: HubPush;
  /** Motion (and camera event) detection per camera, on the media bus, publishing to `events`. */
  readonly detection: HubDetection;
  readonly #lan: LanEndpoint;
  readonly #live: LiveCameras;
  readonly cameras: Cameras;
  readonly #delivery: KeyDelivery;
  readonly #watching: Watching;
  readonly #viewers = new LocalViewers();
  readonly #ptz = new PtzQueue();
  readonly #rosterLog: HubRosterLog;
  /** Guests' and scoped viewers' limits on commands (PROTOCOL §16.3), with its refusal counters. */
  readonly scopes: ScopeGate;
  readonly #windows: AccessWindows;
  readonly recordings: HubRecordings;
  /** Events sealed to the recording epoch, stored, and told to phones (PROTOCOL §17.2). */
  readonly eventStore: HubEventStore;
  readonly #relays: readonly string[];
  readonly #log: (line: string) => void;
  #api: LocalApi | undefined;
  #closed = false;

  private constructor(private readonly opts: HubOptions, readonly store: Store, readonly identity: HubIdentity, readonly ffmpegProblem: string | undefined, ffmpeg: FfmpegInfo | undefined) {
    const log = (this.#log = opts.log ?? (() => undefined));
    this.#relays = relayUrls(opts.relays);
    this.keys = new EpochKeys(identity);
    this.#rosterLog = new HubRosterLog(identity, store);
    this.links = new HubLinks(identity, {
      onMessage: (from, payload, via) => this.sessions.onMessage(from, payload, via),
      onMailboxMessage: (id, from, payload, via) => this.desk.onMailboxMessage(id, from, payload, via),
      onReady: () => {
        for (const d of store.listDevices()) void this.#delivery.grant(d).catch(() => undefined);
        this.#delivery.deliver();
      },
      // A phone subscribed before its watch command: read its camera as it comes from now on.
      onWatchers: () => this.#live.demandChanged(),
      ...relayLogger(log),
    });
    if (this.#relays.length > 0) this.links.add('relay', this.#relays);
    this.#lan = new LanEndpoint(opts.lan, identity.hubId, this.links, log);
    const watchers = (topic: string) => this.links.watchers(topic);
    this.#bus = new MediaBus((e) => log(`media consumer failed: ${e instanceof Error ? e.message : String(e)}`));
    this.events = new EventBus((e) => log(`event consumer failed: ${e instanceof Error ? e.message : String(e)}`));
    this.#live = new LiveCameras({
      store, bus: this.#bus, ffmpeg, watchers,
      tuning: { ...(opts.ingestTiming ? { timing: opts.ingestTiming } : {}), ...(opts.fragmentMs !== undefined ? { fragmentMs: opts.fragmentMs } : {}), ...(opts.rtspReader !== undefined ? { reader: opts.rtspReader } : {}) },
      onState: (camera, s, profile) => {
        log(`camera ${camera.number}${profile ? ` ${profile} profile` : ''}: ${s.state}${s.error ? ` (${s.error})` : ''}`);
        // A guest hears only of its own cameras (PROTOCOL §16.3).
        if (profile === undefined) this.sessions.notifyAll({ type: 'camera-state', camera: camera.id, state: s.state, ...(s.error ? { error: s.error } : {}) }, (id) => visibleCameras(store.getDevice(id), Date.now())?.has(camera.id) ?? true);
        else if (s.state === 'stopped') this.#watching.stopped(profileOf(this.#live.get(camera.number), profile)?.stream.topic ?? '');
      },
      onProfileAdded: (camera, number) => {
        this.#delivery.addStream(camera, number);
        this.sessions.notifyAll({ type: 'cameras-changed' });
      },
    });
    const transport = pairingTransport(this.links);
    this.desk = new PairingDesk(identity, store, transport, () => [...(this.lanUrl ? [this.lanUrl] : []), ...this.#relays], {
      onPaired: async (device) => {
        await this.#delivery.grant(device).catch((e: unknown) => log(`grant failed: ${String(e)}`));
        this.#rosterLog.changed('added', device, () => this.#delivery.newEpoch('device-added'), (length) => this.sessions.notifyAll({ type: 'roster-changed', length }));
        this.#windows.check();
      },
      onStatus: (id, status) => {
        if (status.state === 'confirm') log(`invite ${id.slice(0, 8)}: "${status.name}" shows code ${status.code}`);
      },
    }, opts.appUrl);
    const notify = (deviceId: string, notice: Notice): void => this.sessions.notify(deviceId, notice);
    const publisher = new PhonePublisher(this.keys, this.links, { linkOf: (id) => this.sessions.linkOf(id) });
    this.recordings = new HubRecordings({ dataDir: opts.dataDir, identity, store, notify, log, ...(opts.storageMaxBytes !== undefined ? { quotaBytes: opts.storageMaxBytes } : {}) });
    this.#delivery = new KeyDelivery({ identity, store, keys: this.keys, cameras: this.#live, publisher, sessions: { sendKeyUpdates: (o) => this.sessions.sendKeyUpdates(o) }, links: this.links, log, onEpoch: (r) => this.recordings.epochChanged(r), camerasFor: (d) => visibleCameras(d, Date.now()), capabilityExpiry });
    this.cameras = new Cameras({ store, live: this.#live, viewers: this.#viewers, watchers, newEpoch: (r) => this.#delivery.newEpoch(r), changed: () => this.sessions.notifyAll({ type: 'cameras-changed' }) });
    this.#watching = new Watching({ store, cameras: this.#live, keys: this.keys, publisher, watchers, notify });
    const history = new HistoryShare({ store, index: this.recordings.index, rosterLog: this.#rosterLog, hubId: identity.hubId, told: (length) => this.sessions.notifyAll({ type: 'roster-changed', length }) });
    this.eventStore = new HubEventStore({ identity, store, recordings: this.recordings, notify, log });
    this.events.subscribe(this.eventStore.sealer);
    const push = composePush({ identity, store, ...(opts.push ? { options: opts.push } : {}), ...(ffmpeg ? { ffmpegPath: ffmpeg.path } : {}), log, ownersAtHome: () => this.#ownersAtHome() });
    this.push = push.push;
    this.events.subscribe(this.push);
    this.scopes = new ScopeGate(store);
    this.#windows = new AccessWindows({
      store, log,
      // A guest's `from` came: a new epoch, whose keys it gets, with nothing captured before it (T3).
      opened: () => this.#delivery.newEpoch('device-added', true),
      ended: (d) => removePhone({ store: this.store, ptzQueue: this.#ptz, sessions: this.sessions, delivery: this.#delivery, links: this.links, rosterLog: this.#rosterLog },
        d.id, { by: 'the hub: its access window ended', actor: 'hub', reason: 'window-ended' })
        .finally(() => this.sessions.notifyAll({ type: 'roster-changed', length: this.#rosterLog.length() })),
    });
    const handle = phoneCommands({ store, cameras: this.#live, ptzQueue: this.#ptz, notify, watching: this.#watching, status: () => this.cameras.status(), rosterLog: this.#rosterLog, recordings: this.recordings.commands, history, events: this.eventStore.commands, push: push.commands, backup: new HubBackup(store, identity) });
    this.sessions = new PhoneSessions(identity, store, transport, (id) => this.keys.keyUpdateFor(id, visibleCameras(store.getDevice(bytesToHex(id)), Date.now())), this.scopes.wrap(handle), log, (deviceId) => {
      // Always, an empty list too: a phone asked to use relays only waits for this to know that
      // the address it came in on is not the LAN endpoint (PROTOCOL §12.1).
      this.sessions.notify(deviceId, { type: 'paths', lan: this.lanUrl !== undefined ? [this.lanUrl] : [] });
    });
    this.detection = new HubDetection({
      store, ffmpeg, sink: this.events, log,
      // A camera whose detector decodes its main stream is read as it comes (live-cameras.ts).
      holdPrompt: (n) => this.#live.holdLive(n),
    });
    // Phones first (sealing is the hot path), then what stays on the hub.
    for (const consumer of [publisher, this.#watching, this.#viewers, this.recordings.recorder, this.detection]) this.#bus.subscribe(consumer);
    this.events.subscribe(this.recordings.recorder.events); // `events` mode records around each event
  }

  static async start(opts: HubOptions): Promise<Hub> {
    await cryptoReady();
    const store = openStore(opts.dataDir, opts.keyProtector ? { keyProtector: opts.keyProtector } : {});
    const identity = importHubIdentity(store.getOrCreateHubIdentity(() => exportHubIdentity(newHubIdentity())));
    const { ffmpeg, problem } = await findFfmpeg();
    if (problem !== undefined) opts.log?.(`warning: ${problem}`);
    const hub = new Hub(opts, store, identity, problem, ffmpeg);
    await hub.#lan.start();
    hub.desk.expireStaleInvites();
    hub.#rosterLog.start();
    hub.recordings.start();
    hub.eventStore.start();
    // Before the first epoch: a guest whose window ended while the hub was off is removed first.
    hub.#windows.start();
    hub.#delivery.start();
    for (const camera of store.listCameras()) hub.#live.start(camera);
    hub.#watching.start();
    hub.detection.start();
    hub.#api = await startLocalApi({
      host: opts.apiHost ?? '127.0.0.1', port: opts.apiPort ?? 0, token: apiToken(opts.dataDir), service: hub.service,
      ...(opts.uiHandler ? { fallback: opts.uiHandler } : {}), onError: (e) => hub.#log(`api error: ${e instanceof Error ? e.message : String(e)}`),
    });
    writeHubFile(opts.dataDir, hub.#api.url);
    return hub;
  }

  /** An owner phone is at home: its session came in on the LAN endpoint ("away only" pushes keep quiet). */
  #ownersAtHome(): boolean {
    const lan = this.links.find('lan');
    return lan !== undefined && this.store.listDevices().some((d) => d.role === 'owner' && this.sessions.linkOf(d.id) === lan);
  }

  /** Removes a phone: its relay capability goes, its session ends, and a new epoch starts at once. */
  revokeDevice(id: string): Promise<boolean> {
    const removed = removePhone({ store: this.store, ptzQueue: this.#ptz, sessions: this.sessions, delivery: this.#delivery, links: this.links, rosterLog: this.#rosterLog }, id);
    return removed.finally(() => this.sessions.notifyAll({ type: 'roster-changed', length: this.#rosterLog.length() }));
  }

  /** Changes a phone's cameras and window (main/phones/scope.ts): a roster log entry and a new epoch; phones are told. */
  async changePhoneScope(id: string, change: ScopeChange): Promise<Device> {
    const { device, changed } = await changePhoneScope({ store: this.store, delivery: this.#delivery, rosterLog: this.#rosterLog }, id, change, BY_HUB_OWNER);
    if (changed) {
      this.sessions.notifyAll({ type: 'roster-changed', length: this.#rosterLog.length() });
      this.sessions.notify(id, { type: 'cameras-changed' });
      // Its window may end or open at another time now.
      this.#windows.check();
    }
    return device;
  }

  /**
   * The desktop app as a holder of recording keys (main/keys/desktop-viewer.ts): a viewer on the
   * roster log like any phone (every phone sees it added), and a new recording epoch sealed to it.
   */
  enrolDesktopViewer(certificate: DeviceCertificate, name: string): Promise<Device> {
    const device = this.store.addDevice({ name, certificate });
    this.#rosterLog.changed('added', device, () => this.#delivery.newEpoch('device-added'), (length) => this.sessions.notifyAll({ type: 'roster-changed', length }));
    return Promise.resolve(device);
  }

  /** The roster log, checked as a phone checks it, with its safety code. */
  roster(): RosterReport {
    return rosterReport(this.identity, this.store);
  }

  /** Stops or starts the LAN endpoint (on the same port) while the hub runs. */
  setLan(enabled: boolean): Promise<void> {
    return this.#lan.set(enabled);
  }

  get lanUrl(): string | undefined {
    return this.#lan.url;
  }

  /** The relay this hub uses (the first given), for the UI. */
  get relayUrl(): string | undefined {
    return this.#relays[0];
  }

  get relayState(): string {
    return this.links.find('relay')?.state ?? 'none';
  }

  /** Why the relay link is not connected (or its last connection ended), for status and the UI. */
  get relayProblem(): RelayFailure | undefined {
    return this.links.find('relay')?.failure;
  }

  get apiUrl(): string | undefined {
    return this.#api?.url;
  }

  /** The local API token (for the UI link printed on the hub's own terminal only). */
  get apiToken(): string {
    return apiToken(this.opts.dataDir);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ptz.close();
    this.#windows.stop();
    this.#delivery.stop();
    this.#watching.stop();
    this.#viewers.endAll();
    this.sessions.closeAll();
    await Promise.all([this.#live.stopAll(), this.detection.stop()]);
    this.eventStore.stop();
    await this.push.close();
    this.recordings.stop();
    await this.#api?.close();
    await this.links.close();
    await this.#lan.stop();
    removeHubFile(this.opts.dataDir);
    this.store.close();
  }
}
