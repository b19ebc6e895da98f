// `vigil-phone`: a command-line phone that does what the phone app does, on the same protocol. Its
// keys stay in the profile file (mode 0600).
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import WebSocket from 'ws';
import { cryptoReady } from '../crypto/sodium.ts';
import type { OpenedFrame } from '../crypto/frame.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../relay/client.ts';
import { learnLanEndpoints, pairWithHub } from './core/pair.ts';
import { HubLink, streamOf, type CameraInfo, type WatchOptions } from './core/hub-link.ts';
import type { Liveness } from './core/liveness.ts';
import { FragmentOrder } from './core/fragment-order.ts';
import { FileTimeline } from '../lib/fmp4-time.ts';
import { profileFromJson, type PhoneProfile } from './core/profile.ts';
import { findHubOnLan } from './lan-discovery.ts';
import { saveProfile } from './profile-file.ts';
import { CliHelpRequested, parseCommand, programHelpOf, usageOf, type CliArgs, type CliCommand } from '../relay/cli-options.ts';
import { ALERTS, APPROVE_RESTORE, BACKUP, CAMERAS, EXPORT, PAIR, PHONE_PROGRAM, PLAY, PTZ, RECORDINGS, ROSTER, SHARE_HISTORY, SNAPSHOT, WATCH, EVENTS, EVENT_IMAGE } from './cli-commands.ts';
import { printShare } from './cli-history.ts';
import { NoticeTap, eventsBetween, printEvents, saveEventImage } from './cli-events.ts';
import { describeAlert, printAlerts, printRoster } from './cli-roster.ts';
import { describeSplit } from './core/roster.ts';
import { CrossCheckRunner } from './core/crosscheck-runner.ts';
import { PhoneRecordings, writeClip, type ClipOutcome } from './core/recordings.ts';
import { clipProof, encodeClipProof } from '../crypto/clip-proof.ts';
import { fromHex } from '../crypto/bytes.ts';
import { TimeArgError, isoTime, parseTimeArg } from '../lib/time-arg.ts';

const USAGE = programHelpOf(PHONE_PROGRAM);

class CliError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

/** `--relay URL` may be given several times (nodes of a relay cluster). */
function relayList(values: Values): string[] | undefined {
  const v = values.relay;
  if (v === undefined || typeof v === 'boolean') return undefined;
  return Array.isArray(v) ? v : [v];
}
/** Parses by the command's table (phone/cli-commands.ts); the usage line rides on each error. */
function parse(argv: string[], command: CliCommand): CliArgs & { usage: string } {
  return { ...parseCommand(command, argv), usage: usageOf(command) };
}

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

function need(values: Values, name: string, usage: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new CliError(`--${name} is required\n${usage}`);
  return v;
}

function loadProfile(path: string): PhoneProfile {
  if (!existsSync(path)) throw new CliError(`no profile at ${path}: pair first with 'vigil-phone pair LINK --profile ${path}'`);
  return profileFromJson(readFileSync(path, 'utf8'));
}

async function cmdPair(argv: string[]): Promise<void> {
  const { values, positionals, usage } = parse(argv, PAIR);
  const link = positionals[0];
  if (link === undefined) throw new CliError(`pair needs the pairing LINK\n${usage}`);
  const path = need(values, 'profile', usage);
  if (existsSync(path)) throw new CliError(`${path} already exists: choose another --profile file`);
  const profile = await pairWithHub({
    link,
    name: (values.name as string | undefined) ?? 'vigil-phone',
    relayFactory,
    ...(relayList(values) ? { relayUrls: relayList(values)! } : {}),
    onCode: (code) => console.log(`code ${code.slice(0, 3)} ${code.slice(3)}: check that the hub shows the same, then approve it there`),
  });
  saveProfile(path, profile);
  console.log(`paired with hub ${Buffer.from(profile.hub.hubId).toString('hex').slice(0, 16)} as ${profile.certificate.role}; profile saved to ${path}`);
}

/**
 * How a command takes part in the owner phones' cross-check of the roster log (PROTOCOL §16.4):
 * 'background' for the long-running ones (watch, events --follow: a round at the start, then its
 * mailbox open, compared and answered, until the command ends); 'on-demand' for `roster` (one round,
 * and up to 2 s for the answers). Other commands leave it out: they stay as fast as they were.
 */
type CrossCheckUse = 'background' | 'on-demand';

async function withLink<T>(values: Values, usage: string, f: (link: HubLink, profile: PhoneProfile, path: string, crossCheck: CrossCheckRunner | undefined) => Promise<T>, hooks: { onFrame?: (f: OpenedFrame) => void; onNotice?: NoticeTap['onNotice']; refreshBackup?: false; crossCheck?: CrossCheckUse } = {}): Promise<T> {
  const path = need(values, 'profile', usage);
  const profile = loadProfile(path);
  const mode = (values.path as string | undefined) ?? 'auto';
  if (mode !== 'auto' && mode !== 'lan' && mode !== 'relay') throw new CliError(`--path must be auto, lan or relay\n${usage}`);
  const found = values.mdns === true ? await findHubOnLan(profile.hub.hubId, 1500) : [];
  if (mode === 'lan' && found.length === 0 && profile.lanUrls === undefined && await learnLanEndpoints(profile, relayFactory, profile.relays)) {
    saveProfile(path, profile); // fresh from pairing: the hub has now said which address is its LAN endpoint
  }
  // Made once the link is: its rounds follow the link's state.
  const made: { crossCheck?: CrossCheckRunner } = {};
  const link = new HubLink({
    profile,
    relayFactory,
    path: mode,
    lanUrls: found,
    onPath: (kind, url) => console.error(`path: ${kind === 'lan' ? 'at home' : 'through relay'} (${url})`),
    onPathRefused: (url, why) => console.error(`path: not using ${url}: ${why}`),
    ...(relayList(values) ? { relayUrls: relayList(values)! } : {}),
    onProfileChanged: (p) => saveProfile(path, p),
    onRelayFailure: (f) => console.error(`cannot connect to ${f.url}: ${f.message} [${f.code}]; retrying`),
    onRosterAlerts: (alerts) => {
      for (const a of alerts) console.error(`roster alert: ${describeAlert(a)} (vigil-phone alerts --ack to mark seen)`);
    },
    onRosterProblem: (why) => console.error(`WARNING: ${why}`),
    onState: (state, detail) => {
      made.crossCheck?.linkChanged(state);
      if (state !== 'live' && state !== 'connecting' && state !== 'closed') console.error(`link: ${state}${detail ? ` (${detail})` : ''}`);
    },
    ...(hooks.onFrame ? { onFrame: hooks.onFrame } : {}),
    ...(hooks.onNotice ? { onNotice: hooks.onNotice } : {}),
  });
  const crossCheck = made.crossCheck = hooks.crossCheck !== undefined && profile.certificate.role === 'owner' ? crossCheckerFor(link, profile, path, relayList(values)?.[0], hooks.crossCheck === 'background') : undefined;
  if (hooks.crossCheck === 'background') {
    void crossCheck?.start().then((r) => {
      if (r !== undefined && r.others > 0) console.error(`cross-check: with ${r.others} other owner phone${r.others === 1 ? '' : 's'} while this runs (${r.sent.length} reached, ${r.offline.length} offline)`);
    });
  }
  try {
    const result = await f(link, profile, path, crossCheck);
    // An owner phone that keeps its hub's backup keeps it fresh at each connection (PROTOCOL §18.3).
    if (hooks.refreshBackup !== false && profile.certificate.role === 'owner' && existsSync(`${path}.backup`)) {
      await (await import('./cli-backup.ts')).refreshKeptBackup(link, profile, path);
    }
    return result;
  } finally {
    await crossCheck?.close();
    await link.close();
  }
}

/**
 * The cross-check of an owner phone (phone/core/crosscheck-runner.ts): each check saved in the
 * profile, splits said on stderr, and while a long command runs each agreeing check too (`roster`
 * prints them on stdout).
 */
function crossCheckerFor(link: HubLink, profile: PhoneProfile, path: string, relayUrl: string | undefined, sayEach: boolean): CrossCheckRunner {
  return new CrossCheckRunner({
    link,
    profile,
    relayFactory,
    ...(relayUrl !== undefined ? { relayUrl } : {}),
    onSplit: (a) => console.error(`roster alert: ${describeSplit(a)} (vigil-phone alerts --ack to mark seen)`),
    onChecked: (peer, agrees) => {
      saveProfile(path, profile);
      const c = link.rosterLog.saved.crossChecked?.[peer];
      const name = link.rosterLog.saved.members.find((m) => m.id === peer)?.name ?? peer.slice(0, 8);
      if (sayEach && agrees) console.error(`cross-check with "${name}": same log (${c?.length ?? '?'} entries)`);
    },
    onProblem: (why) => console.error(`cross-check: ${why}`),
  });
}

async function cmdCameras(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, CAMERAS);
  await withLink(values, usage, async (link) => {
    const cameras = await link.listCameras();
    for (const c of cameras) console.log(values.json ? JSON.stringify(c) : `${c.name}\t${c.state ?? ''}\t${c.codecs ?? ''}`);
    if (cameras.length === 0 && !values.json) console.log('the hub has no cameras yet');
  });
}

async function cmdWatch(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, WATCH);
  // --stream, not --profile: --profile already names the phone's profile file.
  const streamName = (values.stream as string | undefined) ?? 'native';
  if (streamName !== 'native' && streamName !== 'h264' && streamName !== 'mpeg1') throw new CliError(`--stream must be native, h264 or mpeg1\n${usage}`);
  // (A cast until HubLink's WatchOptions names every profile: crypto/phone-commands.ts ProfileName.)
  const watchOpts = (streamName === 'native' ? {} : { profile: streamName }) as WatchOptions;
  // mpeg1 is MPEG-TS (PROTOCOL §9.7): its init and fragments are written as they come, no MP4 timeline.
  const ts = streamName === 'mpeg1';
  const cameraName = need(values, 'camera', usage);
  const seconds = Number(need(values, 'seconds', usage));
  if (!(seconds > 0 && seconds <= 24 * 3600)) throw new CliError('--seconds must be a positive number');
  const outPath = need(values, 'out', usage);
  const fd = openSync(outPath, 'w', 0o644);
  let camera: CameraInfo | undefined;
  let streamNumber: number | undefined;
  const order = new FragmentOrder();
  const timeline = new FileTimeline();
  let fragments = 0;
  let bytes = 0;
  let notLive: Liveness | undefined;
  const onFrame = (f: OpenedFrame) => {
    if (streamNumber === undefined || f.cameraNumber !== streamNumber) return;
    // The same rule as the app's player (phone/core/fragment-order.ts): init first, each fragment
    // once in capture order (two paths, and the GOP sent again on a re-watch), a keyframe first.
    const decision = order.accept(f);
    if (decision === 'skip') return;
    if (decision === 'init') {
      if (!ts) timeline.init(f.payload);
      if (bytes > 0) {
        console.error('the camera restarted with a new init segment; continuing in the same file');
        return;
      }
    } else {
      if (!ts) timeline.rebase(f.payload);
      fragments++;
    }
    writeSync(fd, f.payload);
    bytes += f.payload.length;
  };
  try {
    await withLink(values, usage, async (link) => {
      const cameras = await link.listCameras();
      camera = cameras.find((c) => c.name === cameraName) ?? cameras.find((c) => c.id === cameraName);
      if (camera === undefined) throw new CliError(`no camera "${cameraName}" on this hub (have: ${cameras.map((c) => c.name).join(', ') || 'none'})`);
      streamNumber = streamOf(camera, watchOpts).number;
      const what = watchOpts.profile ? ` (its ${watchOpts.profile} profile, transcoded by the hub)` : '';
      console.log(`watching "${camera.name}"${what} for ${seconds} s ${link.path === 'lan' ? 'at home, from the hub\'s LAN endpoint' : 'through relay'} ${link.pathUrl}`);
      await link.watch(camera, watchOpts);
      const cam = camera;
      // Whether what arrives is live (phone/core/liveness.ts): said on every change, and any old
      // picture shown as if live makes the command fail, even though the file is written.
      // How far behind live it is, too, every few seconds.
      let shown: string | undefined;
      let shownAt = 0;
      const check = (): void => {
        const l = link.liveness(cam, watchOpts);
        // Not while the hub's clock just stepped (its machine's clock was set): that is not known
        // to be old, only not measured yet; the link measures again at once.
        if (l.state === 'not-live' && l.captureTime !== undefined && !link.clockStepped) notLive ??= l;
        const key = `${l.state}${l.captureTime === undefined ? '' : ' with a picture'}`;
        if (key !== shown || Date.now() - shownAt >= BEHIND_EVERY_MS) {
          console.error(`video: ${describeLiveness(l)}`);
          shownAt = Date.now();
        }
        shown = key;
      };
      const timer = setInterval(check, 500);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      // A step of the hub's clock in the last moments: its measuring round trip is on the way.
      for (let i = 0; i < 30 && link.clockStepped; i++) await new Promise((r) => setTimeout(r, 100));
      clearInterval(timer);
      check();
      if (link.clockStepped) notLive ??= link.liveness(cam, watchOpts); // still not measured: not shown as live
      const c = link.counters;
      console.log(`path at the end: ${link.path === 'lan' ? 'at home' : 'through relay'} (${link.pathUrl})`);
      console.log(`wrote ${fragments} fragments (${bytes} bytes) to ${outPath}; dropped: ${c.notForMe} not for me, ${c.tampered} tampered, ${c.replayed} replayed, ${c.stale} late from a replaced session; left out: ${order.skipped} (sent twice, or before a keyframe)`);
      console.log(`video at the end: ${describeLiveness(link.liveness(cam, watchOpts))}`);
      if (link.linkState === 'removed') throw new CliError('this phone was removed from the hub');
    }, { onFrame, crossCheck: 'background' });
  } finally {
    closeSync(fd);
  }
  if (fragments === 0) throw new CliError('decrypted nothing: no video reached this phone');
  if (notLive !== undefined) throw new CliError(`not live: ${describeLiveness(notLive)}; the relay (or the network) held the video back or replayed it`);
}

/** How often `watch` says how far behind live the picture is, when nothing else changed. */
const BEHIND_EVERY_MS = 5_000;

/**
 * "live, 0.1–0.4 s behind live, newest picture captured 2026-…Z (hub clock): …", or why it is not
 * live. The bounds come from the authenticated capture time and the hub's clock (phone/core/liveness.ts).
 */
function describeLiveness(l: Liveness): string {
  const state = { waiting: 'waiting', live: 'live', late: 'late', 'not-live': 'NOT LIVE' }[l.state];
  const when = l.captureTime !== undefined ? `, newest picture captured ${new Date(l.captureTime).toISOString()} (hub clock)` : '';
  return `${state}${behindLive(l)}${when}: ${l.reason}`;
}

function behindLive(l: Liveness): string {
  if (l.lagAtLeastMs === undefined || l.lagAtMostMs === undefined) return '';
  const least = (Math.max(0, l.lagAtLeastMs) / 1000).toFixed(1);
  if (!Number.isFinite(l.lagAtMostMs)) return `, at least ${least} s behind live`;
  return `, ${least}–${(l.lagAtMostMs / 1000).toFixed(1)} s behind live`;
}

async function findCamera(link: HubLink, name: string): Promise<CameraInfo> {
  const cameras = await link.listCameras();
  const camera = cameras.find((c) => c.name === name) ?? cameras.find((c) => c.id === name);
  if (camera === undefined) throw new CliError(`no camera "${name}" on this hub (have: ${cameras.map((c) => c.name).join(', ') || 'none'})`);
  return camera;
}

async function cmdSnapshot(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, SNAPSHOT);
  const cameraName = need(values, 'camera', usage);
  const out = need(values, 'out', usage);
  await withLink(values, usage, async (link) => {
    const jpeg = await link.snapshot(await findCamera(link, cameraName));
    writeFileSync(out, jpeg);
    console.log(`saved a ${jpeg.length}-byte snapshot of "${cameraName}" to ${out}`);
  });
}

async function cmdPtz(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, PTZ);
  const cameraName = need(values, 'camera', usage);
  let args: Record<string, unknown>;
  if (typeof values.move === 'string') {
    const move = values.move.split(',').map(Number);
    if (move.length !== 3 || move.some((v) => !Number.isFinite(v) || v < -1 || v > 1)) throw new CliError('--move wants PAN,TILT,ZOOM, each from -1 to 1');
    args = { move, seconds: Number(values.seconds ?? 1) };
  } else if (values.stop === true) args = { stop: true };
  else if (typeof values.preset === 'string') args = { preset: values.preset };
  else throw new CliError(`ptz needs --move, --stop or --preset\n${usage}`);
  await withLink(values, usage, async (link) => {
    const camera = await findCamera(link, cameraName);
    await link.command('ptz', { camera: camera.id, ...args });
    console.log(`ptz done on "${camera.name}"`);
  });
}

/** `vigil-phone recordings`: the camera's ranges (from the hub's index; the segments open only on the phone). */
async function cmdRecordings(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, RECORDINGS);
  const cameraName = need(values, 'camera', usage);
  await withLink(values, usage, async (link, profile) => {
    const camera = await findCamera(link, cameraName);
    const to = Date.now() + 60_000;
    const r = await link.command('recordings', { camera: camera.id, from: 0, to });
    const ranges = r.ranges.map((x) => ({ start: isoTime(x.start), end: isoTime(x.end) }));
    // Events come sealed (PROTOCOL §17.2): the hub's index of recordings does not know them.
    const events = (await eventsBetween(link, profile, camera.id, 0, to)).map((e) => ({ id: e.id, time: isoTime(e.start), end: e.end !== undefined ? isoTime(e.end) : null, kind: e.kind }));
    if (values.json) {
      console.log(JSON.stringify({ camera: camera.name, mode: r.mode, ranges, events }));
      return;
    }
    console.log(`"${camera.name}" records: ${r.mode}`);
    for (const x of ranges) console.log(`${x.start} to ${x.end}`);
    if (ranges.length === 0) console.log('nothing recorded');
    for (const e of events) console.log(`event ${e.id}: ${e.kind} at ${e.time}`);
  });
}

/** A TIME argument (ISO 8601 or now-2h) in Unix ms. */
function timeArg(text: string, name: string): number {
  try {
    return parseTimeArg(text, Date.now());
  } catch (e) {
    if (e instanceof TimeArgError) throw new CliError(`${name}: ${e.message}`);
    throw e;
  }
}

/** --from and --seconds as [from, to) in Unix ms. */
function clipRange(values: Values, usage: string): [number, number] {
  let from: number;
  try {
    from = parseTimeArg(need(values, 'from', usage), Date.now());
  } catch (e) {
    if (e instanceof TimeArgError) throw new CliError(`--from: ${e.message}`);
    throw e;
  }
  const seconds = Number(need(values, 'seconds', usage));
  if (!(seconds > 0 && seconds <= 24 * 3600)) throw new CliError('--seconds must be a positive number (at most a day)');
  return [from, from + Math.round(seconds * 1000)];
}

/**
 * `play` and `export`: the camera's segments over [from, to) fetched, opened on this phone and
 * written to one MP4 (phone/core/recordings.ts writeClip); an export writes its proof beside it.
 */
async function writeRecording(argv: string[], command: CliCommand, evidence: boolean): Promise<void> {
  const { values, usage } = parse(argv, command);
  const cameraName = need(values, 'camera', usage);
  const [from, to] = clipRange(values, usage);
  const outPath = need(values, 'out', usage);
  const proofPath = `${outPath}.proof`;
  await withLink(values, usage, async (link, profile) => {
    const camera = await findCamera(link, cameraName);
    const recs = new PhoneRecordings(link, profile);
    let outcome: ClipOutcome;
    const fd = openSync(outPath, 'w', 0o644);
    try {
      await recs.refreshKeys();
      for (const why of recs.refusedKeys) console.error(`recording key refused: ${why}`);
      outcome = await writeClip(recs, camera.id, from, to, { evidence, write: (b) => writeSync(fd, b), say: (line) => console.error(`"${camera.name}": ${line}`) });
    } finally {
      closeSync(fd);
      recs.close();
    }
    const c = recs.counters;
    if (outcome.segments === 0) {
      rmSync(outPath, { force: true });
      const why = c.noKey > 0 ? `this phone holds no key of what was recorded then (no-recording-key, ${c.noKey} segments)` : 'no recording of this camera then';
      throw new CliError(`${why}: nothing written (${isoTime(from)} to ${isoTime(to)})`);
    }
    if (evidence) {
      writeFileSync(proofPath, encodeClipProof(clipProof(profile.hub, fromHex(camera.id), camera.name, outcome.proof)), { mode: 0o644 });
    }
    const what = evidence ? `exported to ${outPath}, its proof to ${proofPath}` : `wrote ${outPath}`;
    console.log(`${what}: ${outcome.segments} segments of "${camera.name}", ${isoTime(outcome.start!)} to ${isoTime(outcome.end!)}, ${outcome.bytes} bytes, starting at 0 s`);
    if (outcome.left + outcome.partial > 0) {
      // Each said above, one line a segment; what is missing is a gap in the file's time.
      console.log(`not all of it: ${outcome.partial} segments in part (damaged: the fragments before the damage are in), ${outcome.left} left out ` +
        `(${c.noKey} with no key on this phone, ${c.refused} not opening or not the segment asked for, ${c.damaged - outcome.partial} damaged)`);
    }
    if (outcome.endedAt !== undefined) console.log(`the file ends at ${isoTime(outcome.endedAt.time)}: ${outcome.endedAt.why}`);
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  await cryptoReady();
  try {
    switch (command) {
      case 'pair':
        await cmdPair(rest);
        return 0;
      case 'cameras':
        await cmdCameras(rest);
        return 0;
      case 'watch':
        await cmdWatch(rest);
        return 0;
      case 'snapshot':
        await cmdSnapshot(rest);
        return 0;
      case 'ptz':
        await cmdPtz(rest);
        return 0;
      case 'recordings':
        await cmdRecordings(rest);
        return 0;
      case 'play':
        await writeRecording(rest, PLAY, false);
        return 0;
      case 'roster': {
        const { values, usage } = parse(rest, ROSTER);
        return await withLink(values, usage, (link, _profile, _path, crossCheck) => printRoster(link, values.json === true, crossCheck), { crossCheck: 'on-demand' });
      }
      case 'alerts': {
        const { values, usage } = parse(rest, ALERTS);
        await withLink(values, usage, async (link, profile, path) => {
          if (await printAlerts(link, values.json === true, values.ack === true) > 0) saveProfile(path, { ...profile, roster: link.rosterLog.saved });
        });
        return 0;
      }
      case 'export':
        await writeRecording(rest, EXPORT, true);
        return 0;
      case 'share-history': {
        const { values, usage } = parse(rest, SHARE_HISTORY);
        const phone = need(values, 'phone', usage);
        const from = typeof values.from === 'string' ? timeArg(values.from, '--from') : undefined;
        return await withLink(values, usage, (link, profile) => printShare(link, profile, { phone, ...(from !== undefined ? { from } : {}), json: values.json === true }));
      }
      case 'events': {
        const { values, usage } = parse(rest, EVENTS);
        const seconds = values.follow === true ? Number(need(values, 'seconds', usage)) : undefined;
        if (seconds !== undefined && !(seconds > 0 && seconds <= 24 * 3600)) throw new CliError('--seconds must be a positive number (at most a day)');
        const tap = new NoticeTap();
        const o = { ...(typeof values.camera === 'string' ? { camera: values.camera } : {}), json: values.json === true, ...(seconds !== undefined ? { followSeconds: seconds } : {}) };
        return await withLink(values, usage, (link, profile) => printEvents(link, profile, tap, o, (why) => new CliError(why)), { onNotice: tap.onNotice, ...(seconds !== undefined ? { crossCheck: 'background' as const } : {}) });
      }
      case 'backup': {
        const { saveBackup } = await import('./cli-backup.ts');
        const { values, usage } = parse(rest, BACKUP);
        return await withLink(values, usage, (link, profile, path) => saveBackup(link, profile, path, { ...(typeof values.out === 'string' ? { out: values.out } : {}), json: values.json === true }), { refreshBackup: false });
      }
      case 'approve-restore': {
        const { approveRestoreFromCli } = await import('./cli-backup.ts');
        const { values, usage } = parse(rest, APPROVE_RESTORE);
        const path = need(values, 'profile', usage);
        const relayUrls = relayList(values);
        return await approveRestoreFromCli(loadProfile(path), path, need(values, 'invite', usage), relayFactory, { ...(relayUrls ? { relayUrls } : {}), json: values.json === true });
      }
      case 'event-image': {
        const { values, usage } = parse(rest, EVENT_IMAGE);
        const id = Number(need(values, 'event', usage));
        if (!(Number.isSafeInteger(id) && id >= 1)) throw new CliError(`--event wants an event id (vigil-phone events)\n${usage}`);
        const out = need(values, 'out', usage);
        await withLink(values, usage, (link, profile) => saveEventImage(link, profile, id, out, (why) => new CliError(why)));
        return 0;
      }
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return 0;
      default:
        console.error(command === undefined ? USAGE : `vigil-phone: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof CliHelpRequested) {
      console.log(e.help);
      return 0;
    }
    console.error(`vigil-phone ${command}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
process.exit();
