// The phone app: pair with a hub (scan its QR or paste the link), list its cameras, watch one live.
// Every byte from the relay is opened by phone/core and crypto/, exactly as in the command-line
// phone; this file is the screens around them.
import { cryptoReady } from '../../../crypto/sodium.ts';
import { parseInviteLink } from '../../../crypto/invite.ts';
import { toHex } from '../../../crypto/bytes.ts';
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../../relay/client.ts';
import { pairWithHub } from '../../core/pair.ts';
import { HubLink, streamOf, type CameraInfo, type LinkState, type WatchOptions } from '../../core/hub-link.ts';
import type { LiveState } from '../../core/liveness.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { describeAlert, describeSplit } from '../../core/roster.ts';
import { CrossCheckRunner } from '../../core/crosscheck-runner.ts';
import { askPersistentStorage, forgetProfile, loadProfile, saveProfile } from './store.dom.ts';
import { startScanner, type Scanner } from './scanner.dom.ts';
import { LivePlayer, mediaSourceClass, playability, type PlayerState } from './player.dom.ts';
import { Mpeg1Player } from './mpeg1-player.dom.ts';
import { WebCodecsPlayer, webCodecsSupports } from './webcodecs-player.dom.ts';
import { MPEG1_BADGE, codecLabel, videoCodecLabel } from './order.ts';
import { watchForUpdates } from './updates.dom.ts';
import { wirePush } from './push.dom.ts';
import { iosAdvice } from './ios.ts';
import { TimelineView } from './timeline.dom.ts';
import { EventsPanel } from './events.dom.ts';
import { EVENT_PRE_ROLL_MS } from './events.ts';
import { renderPhones } from './phones.dom.ts';
import { AccessView } from './scope.dom.ts';
import { BackupPanel, forgetKeptBackup } from './backup.dom.ts';
import { readTimelineHash } from './push-inbox.ts';

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

type Screen = 'loading' | 'pair' | 'code' | 'cameras' | 'live' | 'events' | 'removed';

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

function show(screen: Screen): void {
  for (const el of document.querySelectorAll<HTMLElement>('main > [data-screen]')) el.hidden = el.dataset.screen !== screen;
  document.body.dataset.screen = screen;
}

function setText(id: string, text: string): void {
  $(id).textContent = text;
}

const LINK_TEXT: Record<LinkState, string> = {
  connecting: 'Connecting to your hub…',
  live: 'Connected to your hub',
  reconnecting: 'Connection lost: reconnecting…',
  'hub-offline': 'Your hub is offline. Vigil keeps trying.',
  refused: 'The relay will not connect this phone to the hub. It may have been removed from the hub.',
  removed: 'Disconnected', // the removed screen says why, once
  closed: 'Disconnected',
};

// ---------------------------------------------------------------------------------------------
// Pairing

let scanner: Scanner | undefined;
let pairing = false;

function showPairing(message?: string): void {
  show('pair');
  setText('pair-error', message ?? '');
}

async function startScan(): Promise<void> {
  setText('pair-error', '');
  const video = $<HTMLVideoElement>('scan-video');
  video.hidden = false;
  setText('scan-status', 'Point the camera at the QR code on your hub.');
  try {
    scanner = await startScanner(video, (text) => {
      try {
        parseInviteLink(text);
      } catch {
        setText('scan-status', 'That QR code is not a Vigil pairing code. Keep pointing at the hub\'s QR code.');
        return false;
      }
      video.hidden = true;
      void pair(text);
      return true;
    }, (m) => setText('scan-status', m));
  } catch (e) {
    video.hidden = true;
    setText('scan-status', '');
    const name = e instanceof DOMException ? e.name : '';
    setText('pair-error', name === 'NotAllowedError' ? 'Camera access was refused. Allow it, or paste the pairing link below.'
      : name === 'NotFoundError' ? 'This device has no camera. Paste the pairing link below.'
        : `The camera could not start: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function pair(link: string): Promise<void> {
  if (pairing) return;
  scanner?.stop();
  scanner = undefined;
  try {
    parseInviteLink(link);
  } catch {
    showPairing('That is not a Vigil pairing link. It starts with vigil://pair/ or contains #pair=.');
    return;
  }
  pairing = true;
  show('code');
  setText('code', '— — —');
  setText('code-status', 'Reaching your hub…');
  const name = $<HTMLInputElement>('phone-name').value.trim().slice(0, 64) || 'Phone';
  try {
    const profile = await pairWithHub({
      link,
      name,
      relayFactory,
      onCode: (code) => {
        setText('code', `${code.slice(0, 3)} ${code.slice(3)}`);
        $('code').dataset.code = code;
        setText('code-status', 'Check that your hub shows the same code, then approve this phone on the hub.');
      },
    });
    await saveProfile(profile);
    void askPersistentStorage();
    startLinked(profile);
  } catch (e) {
    showPairing(`Pairing failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    pairing = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Linked to a hub

let link: HubLink | undefined;
/** The cameras the hub listed, and of those the ones offered (a scoped phone: its own, in its window). */
let listed: CameraInfo[] = [];
let cameras: CameraInfo[] = [];
/** `opts` names the stream watched (the camera's own, or the hub's h264 profile); `number` is its frames'. */
let watching: { camera: CameraInfo; opts: WatchOptions; number: number; player: LivePlayer | Mpeg1Player | WebCodecsPlayer | undefined; tappedAt: number } | undefined;
let statsTimer: ReturnType<typeof setInterval> | undefined;

function lossMark(): number {
  const c = link?.counters;
  return c === undefined ? 0 : c.tampered + c.malformed + c.relayDropped;
}

let linkedProfile: PhoneProfile | undefined;
let eventsPanel: EventsPanel | undefined;
let access: AccessView | undefined;
let backupPanel: BackupPanel | undefined;
/** An owner phone's cross-check of the roster log with the other owner phones, while linked (PROTOCOL §16.4). */
let crossCheck: CrossCheckRunner | undefined;

function startLinked(profile: PhoneProfile): void {
  linkedProfile = profile;
  show('cameras');
  setText('hub-id', toHex(profile.hub.hubId).slice(0, 16));
  setText('device-role', profile.certificate.role);
  link = new HubLink({
    profile,
    relayFactory,
    onProfileChanged: (p) => {
      void saveProfile(p).catch(() => undefined);
      showRoster();
    },
    onState: (state) => onLinkState(state),
    onFrame: (f) => onFrame(f),
    onNotice: (n) => {
      if (n.type === 'cameras-changed' || n.type === 'camera-state') void refreshCameras();
      // A camera added or changed moves what a restore brings back: an owner phone keeps the new backup.
      if (n.type === 'cameras-changed') void backupPanel?.refresh();
      if (n.type === 'event') void eventsPanel?.onNotice(n).then((e) => e !== undefined && timeline?.addEvent(e));
    },
    onRosterAlerts: (alerts) => {
      showRoster();
      void backupPanel?.refresh();
      // An owner shared older recordings with this phone: fetch those keys now, so they play at once.
      const shared = alerts.filter((a) => a.change === 'history-shared' && a.deviceId === toHex(profile.device.deviceId));
      if (shared.length > 0) {
        const from = Math.min(...shared.map((a) => a.history?.firstEpoch ?? 0));
        void timeline?.historyShared(from).catch(() => undefined);
        void eventsPanel?.historyShared(from).catch(() => undefined);
      }
    },
    onRosterProblem: (why) => {
      const el = $('update');
      el.hidden = false;
      el.textContent = `Warning: ${why}. Your hub may be sharing your cameras with a device you cannot see.`;
    },
  });
  eventsPanel?.close();
  eventsPanel = new EventsPanel({
    link,
    profile,
    cameraName: (id) => cameras.find((c) => c.id === id)?.name,
    onOpen: (target) => openTimelineOf(target.camera, target.time),
  });
  access?.close();
  access = new AccessView({ me: toHex(profile.device.deviceId), role: profile.certificate.role, onChange: () => void refreshCameras(true) });
  backupPanel?.close();
  backupPanel = new BackupPanel({ link, profile, relayFactory });
  void backupPanel.load();
  void crossCheck?.close();
  crossCheck = new CrossCheckRunner({
    link,
    profile,
    relayFactory,
    onChecked: () => {
      void saveProfile(profile).catch(() => undefined);
      showRoster();
    },
  });
  void crossCheck.start();
  showRoster();
  clearInterval(statsTimer);
  statsTimer = setInterval(showStats, 1000);
  void refreshCameras();
  void eventsPanel.load();
}

/** Roster changes not yet acknowledged, and the safety code (PROTOCOL §16). */
function showRoster(): void {
  if (link === undefined) return;
  const check = link.rosterLog;
  setText('safety-code', check.length > 0 ? check.safetyCode : '…');
  const unseen = check.saved.alerts.filter((a) => !a.acknowledged);
  // A split another owner phone's cross-check revealed comes first: the hub shows phones different logs.
  const splits = (check.saved.splits ?? []).filter((a) => !a.acknowledged);
  const list = $('roster-alert-list');
  list.replaceChildren(...[...splits.map(describeSplit), ...unseen.map((a) => describeAlert(a))].map((text) => {
    const li = document.createElement('li');
    li.textContent = text;
    return li;
  }));
  $('roster-alerts').hidden = unseen.length + splits.length === 0;
  access?.update(check.saved, cameraName);
  if (linkedProfile !== undefined) renderPhones(link, linkedProfile);
}

function acknowledgeRoster(): void {
  if (link === undefined) return;
  if (link.rosterLog.acknowledge() + link.rosterLog.acknowledgeSplits() > 0 && linkedProfile !== undefined) {
    linkedProfile.roster = link.rosterLog.saved;
    void saveProfile(linkedProfile).catch(() => undefined);
  }
  showRoster();
}

function onLinkState(state: LinkState): void {
  document.body.dataset.link = state;
  crossCheck?.linkChanged(state);
  const banner = $('link-state');
  banner.dataset.state = state;
  banner.textContent = LINK_TEXT[state];
  if (state === 'removed') {
    stopWatching(false);
    show('removed');
  } else if (state === 'live' && cameras.length === 0) {
    void refreshCameras();
  }
  // Events told while the link was down are in the hub's list.
  if (state === 'live') void eventsPanel?.load();
  // At each connection an owner phone checks that the backup it keeps is the hub's current one.
  if (state === 'live') void backupPanel?.refresh();
}

/** A camera's name as the hub listed it to this phone. */
function cameraName(id: string): string | undefined {
  return listed.find((c) => c.id === id)?.name;
}

let refreshing = false;
let refreshAgain = false;
/** `again`: list once more if a listing is under way (the scope changed while it ran). */
async function refreshCameras(again = false): Promise<void> {
  if (link === undefined) return;
  if (refreshing) {
    refreshAgain ||= again;
    return;
  }
  refreshing = true;
  try {
    listed = await link.listCameras();
    cameras = access?.offered(listed) ?? listed;
    access?.render(cameraName);
    renderCameras();
    setText('cameras-error', '');
    eventsPanel?.camerasChanged();
    openPendingTimeline(true);
  } catch (e) {
    if (link.linkState !== 'removed') setText('cameras-error', `Cannot list cameras: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      void refreshCameras();
    }
  }
}

function renderCameras(): void {
  const list = $('cameras');
  list.replaceChildren();
  for (const c of cameras) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.className = 'camera';
    button.dataset.camera = c.id;
    const name = document.createElement('span');
    name.className = 'camera-name';
    name.textContent = c.name;
    const meta = document.createElement('span');
    meta.className = 'camera-meta';
    meta.textContent = `${c.state ?? 'unknown'} · ${codecLabel(c.codecs)}`;
    button.append(name, meta);
    button.addEventListener('click', () => void openCamera(c));
    item.append(button);
    list.append(item);
  }
  setText('cameras-empty', cameras.length === 0 ? access?.emptyText() ?? 'Your hub has no cameras yet. Add one on the hub.' : '');
  if (watching !== undefined) {
    const fresh = cameras.find((c) => c.id === watching!.camera.id);
    if (fresh !== undefined) showStreamLabel(fresh, watching.opts);
  }
}

/**
 * What to watch: the camera's own stream where this browser plays it, else the hub's H.264
 * transcode if the camera offers one (an H.265 camera in a browser without H.265), else nothing.
 * A browser with no Media Source at all (iOS 16 and older) gets the hub's mpeg1 profile, decoded
 * with JSMpeg on a canvas.
 */
function chooseStream(camera: CameraInfo): { ok: true; type: string; opts: WatchOptions } | { ok: false; reason: string } {
  if (mediaSourceClass() === undefined) {
    const mpeg1 = camera.profiles?.find((p) => p.name === 'mpeg1');
    if (mpeg1 === undefined || !Mpeg1Player.supported()) {
      return { ok: false, reason: 'This browser has no Media Source Extensions, and the hub offers no MPEG-1 stream of this camera yet (it has not started).' };
    }
    // (A cast until HubLink's WatchOptions names every profile: crypto/phone-commands.ts ProfileName.)
    return { ok: true, type: mpeg1.mime ?? 'video/mp2t', opts: { profile: 'mpeg1' } as unknown as WatchOptions };
  }
  const native = playability(camera.mime, camera.codecs);
  if (native.ok) return { ...native, opts: {} };
  const h264 = camera.profiles?.find((p) => p.name === 'h264');
  if (camera.mime === undefined || h264 === undefined) return native;
  const transcoded = playability(h264.mime, h264.codecs);
  return transcoded.ok ? { ...transcoded, opts: { profile: 'h264' } } : native;
}

type PlayerChoice = { ok: true; kind: 'webcodecs' | 'mse' | 'mpeg1'; type: string; opts: WatchOptions } | { ok: false; reason: string };

/**
 * The player: WebCodecs (VideoDecoder onto #live-canvas, no Media Source buffer: the lowest
 * latency, docs/PERFORMANCE.md "Glass to glass") where the browser decodes the stream's video, the
 * camera's own or else the hub's h264 profile; Media Source where it does not, or when sound is
 * wanted (the WebCodecs player is video only); JSMpeg without either (chooseStream).
 */
async function choosePlayer(camera: CameraInfo, noWebCodecs: boolean): Promise<PlayerChoice> {
  if (!noWebCodecs) {
    const h264 = camera.profiles?.find((p) => p.name === 'h264');
    const candidates: Array<[string | undefined, WatchOptions]> = [[camera.codecs, {}], [h264?.codecs, { profile: 'h264' }]];
    for (const [codecs, opts] of candidates) {
      const video = codecs?.split(',').map((c) => c.trim()).find((c) => !c.startsWith('mp4a.'));
      if (video !== undefined && await webCodecsSupports(video)) return { ok: true, kind: 'webcodecs', type: video, opts };
    }
  }
  const s = chooseStream(camera);
  if (!s.ok) return s;
  return { ...s, kind: (s.opts.profile as string | undefined) === 'mpeg1' ? 'mpeg1' : 'mse' };
}

/** The badge says which stream plays: "H.265 → H.264 (transcoded by the hub)" for the profile. */
function showStreamLabel(camera: CameraInfo, opts: WatchOptions): void {
  const badge = $('live-codec');
  const profile: string | undefined = opts.profile;
  badge.dataset.stream = profile ?? 'native';
  if (profile === 'mpeg1') {
    badge.textContent = MPEG1_BADGE;
    badge.title = 'This browser cannot play the camera\'s video as it is (no Media Source), so the hub converts it to MPEG-1 while you watch, which this page decodes itself.';
  } else if (opts.profile === 'h264') {
    badge.textContent = `${videoCodecLabel(camera.codecs)} → H.264 (transcoded by the hub)`;
    badge.title = 'This browser cannot play the camera\'s own video, so the hub converts it to H.264 while you watch.';
  } else {
    badge.textContent = codecLabel(camera.codecs);
    badge.title = '';
  }
}

function setPlayerState(state: PlayerState | 'unsupported', detail: string): void {
  const el = $('player-state');
  el.dataset.state = state;
  el.textContent = detail;
}

let opening = 0;

/** `mse`: not WebCodecs (it refused the stream, or the user unmuted it: `sound`); Media Source, else MPEG-1. */
async function openCamera(camera: CameraInfo, mse?: { sound: boolean }): Promise<void> {
  if (link === undefined) return;
  stopWatching(true);
  const attempt = ++opening;
  show('live');
  setText('live-name', camera.name);
  showStreamLabel(camera, {});
  const video = $<HTMLVideoElement>('video');
  delete video.dataset.firstFrameMs;
  delete $('canvas').dataset.firstFrameMs;
  delete $('live-canvas').dataset.firstFrameMs;
  $('canvas').hidden = true;
  $('live-canvas').hidden = true;
  // Snapshot and PTZ: the hub says per camera what it supports; nothing to offer when it says no.
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-ptz]')) {
    b.disabled = camera.ptz !== true;
    b.title = camera.ptz === true ? '' : 'This camera cannot pan or tilt';
  }
  $<HTMLButtonElement>('snapshot').disabled = camera.snapshot !== true;
  $('snapshot').title = camera.snapshot === true ? '' : 'This camera cannot take snapshots';
  $('snapshot-link').hidden = true;
  const tappedAt = performance.now();
  const playable = await choosePlayer(camera, mse !== undefined);
  // Another camera was tapped, or Back, while the browser answered.
  if (attempt !== opening || document.body.dataset.screen !== 'live') return;
  if (!playable.ok) {
    // Nothing is watched that cannot be shown: the hub sends nothing for it.
    watching = { camera, opts: {}, number: camera.number, player: undefined, tappedAt };
    video.hidden = true;
    setPlayerState('unsupported', playable.reason);
    return;
  }
  const { opts } = playable;
  showStreamLabel(camera, opts);
  const canvas = $<HTMLCanvasElement>(playable.kind === 'webcodecs' ? 'live-canvas' : 'canvas');
  video.hidden = playable.kind !== 'mse';
  canvas.hidden = playable.kind === 'mse';
  const hooks = {
    onState: (s: PlayerState, d: string) => setPlayerState(s, d),
    onRestartNeeded: () => void link?.watch(camera, opts).catch(() => undefined),
    onFirstFrame: () => {
      (playable.kind === 'mse' ? video : canvas).dataset.firstFrameMs = String(Math.round(performance.now() - tappedAt));
    },
    onUnsupported: () => {
      if (watching?.player === player) void openCamera(camera, { sound: false });
    },
  };
  const player = playable.kind === 'webcodecs' ? new WebCodecsPlayer(canvas, hooks)
    : playable.kind === 'mpeg1' ? new Mpeg1Player(canvas, hooks) : new LivePlayer(video, playable.type, hooks);
  $('stats').dataset.player = playable.kind;
  showSound(camera, player);
  if (mse?.sound === true && !(player instanceof WebCodecsPlayer) && !$('unmute').hidden) setSoundOn(true);
  watching = { camera, opts, number: streamOf(camera, opts).number, player, tappedAt };
  try {
    await link.watch(camera, opts);
  } catch (e) {
    if (watching?.player === player) setPlayerState('error', `Cannot start this camera: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Sound: every stream starts muted (browsers start sound only after a gesture anyway) with a button
 * to unmute. The camera's audio is AAC in the fMP4 (the hub transcodes G.711), MP2 in the mpeg1
 * profile; a camera without audio says so instead.
 */
function showSound(camera: CameraInfo, player: LivePlayer | Mpeg1Player | WebCodecsPlayer): void {
  const button = $<HTMLButtonElement>('unmute');
  const hasAudio = /(^|,)\s*mp4a\./.test(camera.codecs ?? '') && (!(player instanceof Mpeg1Player) || player.hasAudioOutput);
  button.hidden = !hasAudio;
  button.textContent = 'Unmute';
  button.setAttribute('aria-pressed', 'false');
  setText('sound-state', hasAudio ? '' : 'No sound from this camera.');
}

function toggleSound(): void {
  const player = watching?.player;
  if (player === undefined) return;
  // The WebCodecs player is video only: sound comes with the Media Source player.
  if (player instanceof WebCodecsPlayer) {
    void openCamera(watching!.camera, { sound: true });
    return;
  }
  const video = $<HTMLVideoElement>('video');
  setSoundOn(player instanceof Mpeg1Player ? player.muted : video.muted);
}

function setSoundOn(on: boolean): void {
  const player = watching?.player;
  if (player instanceof Mpeg1Player) player.setMuted(!on);
  else $<HTMLVideoElement>('video').muted = !on;
  const button = $('unmute');
  button.textContent = on ? 'Mute' : 'Unmute';
  button.setAttribute('aria-pressed', String(on));
}

function stopWatching(tellHub: boolean): void {
  closeTimeline();
  const w = watching;
  watching = undefined;
  if (w === undefined) return;
  w.player?.close();
  if (tellHub && w.player !== undefined) void link?.unwatch(w.camera, w.opts).catch(() => undefined);
}

function onFrame(f: OpenedFrame): void {
  const w = watching;
  if (w?.player === undefined || f.cameraNumber !== w.number) return;
  w.player.push(f, lossMark());
}

function showStats(): void {
  const c = link?.counters;
  if (c === undefined) return;
  const el = $('stats');
  el.dataset.opened = String(c.opened);
  el.dataset.tampered = String(c.tampered);
  el.dataset.notForMe = String(c.notForMe);
  el.dataset.replayed = String(c.replayed);
  el.dataset.relayDropped = String(c.relayDropped);
  el.dataset.appended = String(watching?.player?.appended ?? 0);
  el.dataset.presented = String(watching?.player instanceof WebCodecsPlayer ? watching.player.presented : 0);
  el.textContent = `${c.opened} fragments opened · dropped: ${c.tampered} tampered, ${c.notForMe} not for this phone, ${c.replayed} replayed`;
  showLiveness();
}

const LIVE_WORD: Record<LiveState, string> = { waiting: '', live: 'Live', late: 'Late', 'not-live': 'Not live' };

/**
 * The badge says whether the picture is live, and when what is on screen was captured (the hub's
 * clock, shown in this phone's time zone): a relay that replays old video or holds the stream back
 * makes it say "Not live" and greys the picture out (phone/core/liveness.ts).
 */
function showLiveness(): void {
  const w = watching;
  const badge = $('live-age');
  const video = $<HTMLVideoElement>('video');
  if (link === undefined || w?.player === undefined) {
    badge.dataset.state = 'waiting';
    badge.textContent = '';
    delete video.dataset.live;
    return;
  }
  const l = link.liveness(w.camera, w.opts);
  // What is on screen is behind the newest fragment by what is buffered ahead of the play head
  // (JSMpeg paints a picture as soon as it has it: nothing ahead).
  const b = video.buffered;
  const ahead = w.player instanceof WebCodecsPlayer ? w.player.heldBack
    : w.player instanceof Mpeg1Player || b.length === 0 ? 0 : Math.max(0, b.end(b.length - 1) - video.currentTime);
  const onScreen = l.captureTime !== undefined ? l.captureTime - ahead * 1000 : undefined;
  badge.dataset.state = l.state;
  video.dataset.live = l.state;
  $('canvas').dataset.live = l.state;
  $('live-canvas').dataset.live = l.state;
  if (onScreen !== undefined) badge.dataset.captureTime = String(Math.round(onScreen));
  else delete badge.dataset.captureTime;
  const at = onScreen !== undefined ? new Date(onScreen).toLocaleTimeString() : '';
  badge.textContent = l.state === 'waiting' ? '' : [LIVE_WORD[l.state], at].filter((x) => x !== '').join(' · ');
  badge.title = l.state === 'live' ? `Captured ${at} by the hub's clock; ${l.reason}.`
    : l.state === 'waiting' ? '' : `${l.reason[0]!.toUpperCase()}${l.reason.slice(1)}. What you see may not be happening now.`;
}

// ---------------------------------------------------------------------------------------------
// Recordings (timeline.dom.ts): live stops while the timeline shows the camera's recordings.

let timeline: TimelineView | undefined;

/** The camera's timeline: from the live view (at its newest recording), or at `at` (an event, a notification). */
function openTimeline(camera = watching?.camera, at?: number): void {
  if (link === undefined || linkedProfile === undefined || camera === undefined) return;
  stopWatching(true);
  show('live');
  setText('live-name', camera.name);
  showStreamLabel(camera, {});
  for (const id of ['video', 'canvas', 'live-canvas']) document.getElementById(id)?.setAttribute('hidden', '');
  setPlayerState('waiting', '');
  $('recordings').hidden = true;
  timeline = new TimelineView({ link, profile: linkedProfile, camera, ...(at !== undefined ? { at } : {}), onLive: () => void openCamera(camera) });
}

/**
 * A timeline asked for by camera id (an event tapped, a notification's `#timeline=<camera>@<ms>`
 * link): opened once the hub's camera list has that camera.
 */
let pendingTimeline: { camera: string; time: number } | undefined;

function openTimelineOf(camera: string, time: number): void {
  pendingTimeline = { camera, time };
  openPendingTimeline(false);
}

/** `listed`: the camera list just came from the hub, so a camera not in it is not on the hub. */
function openPendingTimeline(listed: boolean): void {
  const p = pendingTimeline;
  if (p === undefined || link === undefined) return;
  const camera = cameras.find((c) => c.id === p.camera);
  if (camera === undefined) {
    if (listed) {
      pendingTimeline = undefined;
      setText('cameras-error', 'The camera of that event is no longer on your hub.');
    }
    return;
  }
  pendingTimeline = undefined;
  openTimeline(camera, p.time);
}

/**
 * A notification's tap opens the app at `#timeline=<camera>@<event start>` (sw.sw.ts), or navigates
 * an open one there: the timeline opens at the event's pre-roll. The hash is then cleared, so the
 * same link tapped again is a change too, and a reload does not reopen it.
 */
function takeTimelineHash(): void {
  const t = readTimelineHash(location.hash);
  if (t === undefined) return;
  history.replaceState(null, '', location.pathname + location.search);
  const known = eventsPanel?.find(t.camera, t.time);
  openTimelineOf(t.camera, known !== undefined ? Math.min(known.start, known.recording.from) : t.time - EVENT_PRE_ROLL_MS);
}

function closeTimeline(): void {
  timeline?.close();
  timeline = undefined;
  $('recordings').hidden = false;
}

async function forget(): Promise<void> {
  if (!confirm('Forget this hub? This phone\'s keys for it are deleted; pairing again needs a new QR code from the hub.')) return;
  stopWatching(true);
  await link?.close();
  link = undefined;
  eventsPanel?.close();
  eventsPanel = undefined;
  access?.close();
  access = undefined;
  backupPanel?.close();
  backupPanel = undefined;
  void crossCheck?.close();
  crossCheck = undefined;
  await forgetProfile();
  await forgetKeptBackup();
  listed = [];
  cameras = [];
  showPairing();
}

// ---------------------------------------------------------------------------------------------
// Start

/** An app link (`…#pair=…`) opens pairing directly; the invite never reaches the app's server. */
function takePairLinkFromHash(): string | undefined {
  if (!location.hash.startsWith('#pair=')) return undefined;
  const linkText = location.href;
  history.replaceState(null, '', location.pathname + location.search);
  return linkText;
}

const PTZ_MOVES: Record<string, [number, number, number]> = { left: [-0.5, 0, 0], right: [0.5, 0, 0], up: [0, 0.5, 0], down: [0, -0.5, 0] };

async function nudge(direction: string): Promise<void> {
  const move = PTZ_MOVES[direction];
  const camera = watching?.camera;
  if (link === undefined || camera === undefined || move === undefined) return;
  try {
    await link.command('ptz', { camera: camera.id, move, seconds: 0.5 });
  } catch (e) {
    setPlayerState('error', `The camera did not move: ${e instanceof Error ? e.message : String(e)}`);
  }
}

let snapshotUrl: string | undefined;

async function takeSnapshot(): Promise<void> {
  const camera = watching?.camera;
  if (link === undefined || camera === undefined) return;
  const button = $<HTMLButtonElement>('snapshot');
  button.disabled = true;
  try {
    const jpeg = await link.snapshot(camera);
    if (snapshotUrl !== undefined) URL.revokeObjectURL(snapshotUrl);
    snapshotUrl = URL.createObjectURL(new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }));
    const a = $<HTMLAnchorElement>('snapshot-link');
    a.href = snapshotUrl;
    a.download = `${camera.name.replace(/[^\w -]/g, '_')}-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.jpg`;
    a.textContent = `Save snapshot (${Math.ceil(jpeg.length / 1024)} KB)`;
    a.hidden = false;
  } catch (e) {
    setPlayerState('error', `No snapshot: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    button.disabled = camera.snapshot !== true;
  }
}

function wire(): void {
  $('scan').addEventListener('click', () => void startScan());
  $('pair-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void pair($<HTMLTextAreaElement>('pair-link').value);
  });
  $('back').addEventListener('click', () => {
    stopWatching(true);
    show('cameras');
    void refreshCameras();
  });
  // Snapshot and PTZ travel as signed commands in the session; the hub checks role and roster.
  $('snapshot').addEventListener('click', () => void takeSnapshot());
  $('recordings').addEventListener('click', () => openTimeline());
  $('events-open').addEventListener('click', () => {
    stopWatching(true);
    show('events');
    eventsPanel?.markSeen();
  });
  $('events-back').addEventListener('click', () => show('cameras'));
  window.addEventListener('hashchange', () => takeTimelineHash());
  $('roster-ack').addEventListener('click', () => acknowledgeRoster());
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-ptz]')) {
    b.addEventListener('click', () => void nudge(b.dataset.ptz ?? ''));
  }
  $('unmute').addEventListener('click', () => toggleSound());
  $('forget').addEventListener('click', () => void forget());
  wirePush(() => link);
  $('forget-removed').addEventListener('click', () => void forget());
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP blocked ${e.blockedURI || 'inline code'} (${e.violatedDirective})`);
  });
}

/** On an iPhone: what its iOS version gets, and the two taps to the Home Screen where alerts need them. */
function showIosTip(): void {
  const advice = iosAdvice(navigator.userAgent, (navigator as Navigator & { standalone?: boolean }).standalone);
  const tip = $('ios-tip');
  tip.hidden = advice === undefined || advice.text === '';
  tip.textContent = advice?.text ?? '';
}

async function boot(): Promise<void> {
  wire();
  showIosTip();
  show('loading');
  await cryptoReady();
  watchForUpdates((message) => {
    const el = $('update');
    el.hidden = false;
    el.textContent = message;
  });
  const fromLink = takePairLinkFromHash();
  let profile: PhoneProfile | undefined;
  try {
    profile = await loadProfile();
  } catch (e) {
    showPairing(`The saved pairing could not be read (${e instanceof Error ? e.message : String(e)}). Pair again.`);
    return;
  }
  if (profile !== undefined) {
    startLinked(profile);
    takeTimelineHash();
  } else if (fromLink !== undefined) void pair(fromLink);
  else showPairing();
}

boot().catch((e: unknown) => {
  document.body.dataset.screen = 'failed';
  document.body.textContent = `Vigil could not start: ${e instanceof Error ? e.message : String(e)}`;
});
