// Glass to glass, as a user sees it: how old the picture in the phone app is when it reaches the
// screen, from the moment the camera made the frame. The project's test camera stamps each frame's
// creation time (wall clock ms) into its pixels (rtsp-camera.py --stamp); the real phone app, built
// from phone/app and served on 127.0.0.1, plays it in Debian's chromium through a real relay and hub,
// and bench/lib/glass-page.ts reads the stamp of every presented frame (requestVideoFrameCallback).
// Camera and chromium share the machine's clock, so the age needs no synchronisation.
//
// For each path (the relay; the hub's LAN endpoint) a fresh hub is paired with a fresh browser, then
// the camera is tapped `--taps` times at a random moment of its 2 s GOP (a random pause before each
// tap), watched for `--watch-s` seconds each time, and left (back to the list). Reported per path:
// glass-to-glass p50/p90/p99/max over every presented frame of every tap, the same from 1 s after the
// tap on (the player settled), the range of the per-tap medians, tap to first frame, the first
// frame's age, and the hub's CPU (node and its ffmpeg) over the tapping, as a share of one core.
//
// Then the first tap after a revocation (issue 20: "tap to first frame < 200 ms p99, including the
// first tap after a revocation"): before the browser pairs, `--revocations` command-line viewers are
// paired too (vigil invite --role viewer, vigil-phone pair); after the taps each is revoked in turn
// at a random moment of the GOP (the hub's local API call `vigil devices revoke` makes, without a
// CLI's start-up of seconds, which would let the next keyframe come first), and as soon as the API
// shows the new epoch the camera is tapped once, reported on its own: tap to first frame, and
// whether that frame was captured before the revocation (the cached GOP sealed again under the new
// epoch) or after it (the camera's next keyframe).
//
// A report, not a test: it prints figures and exits 0 (1 if a measurement could not be taken).
// Everything runs on 127.0.0.1 and is stopped on the way out, also on error, Ctrl-C or when the whole
// run overruns --deadline-s.
//
//   npm run bench:glass -- [--taps 10] [--watch-s 4] [--fragment-ms 300] [--paths relay,lan]
//                          [--codec h264|h265] [--player webcodecs|mse] [--revocations 3] [--deadline-s 300]
// --player mse deletes VideoDecoder from the page before the app loads, so the app falls back to its
// Media Source player; by default the app chooses (WebCodecs where chromium decodes the stream).
// --codec h265 makes the camera send H.265, which chromium cannot play: the app then watches the
// hub's h264 profile (a transcode), so the figures are those of that path.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { buildApp } from '../phone/app/build.ts';
import { serveApp, type AppServer } from '../phone/app/serve.ts';
import { startCamera, stopAllCameras, type StampLayout } from '../test/support/camera/camera.ts';
import {
  VIGIL, addCamera, pairPhone, start, stopAll, tempDir, waitForCameraState, waitUntil, type Running,
} from '../test/support/system.ts';
import { runningHub } from '../main/cli/api-client.ts';
import { closeAllBrowsers, launchBrowser } from '../test/support/browser/browser.ts';
import { machineLine, percentile } from './lib/stats.ts';
import { sampleTree, treeDelta } from './lib/proc.ts';
import { COLLECT, PAINTED, armTap, type GlassSample, type TapRecord } from './lib/glass-page.ts';

const { values } = parseArgs({
  options: {
    taps: { type: 'string' },
    'watch-s': { type: 'string' },
    'fragment-ms': { type: 'string' },
    paths: { type: 'string' },
    codec: { type: 'string' },
    player: { type: 'string' },
    revocations: { type: 'string' },
    'deadline-s': { type: 'string' },
  },
});
const TAPS = Number(values.taps ?? 10);
const WATCH_MS = Number(values['watch-s'] ?? 4) * 1000;
const FRAGMENT_MS = values['fragment-ms'];
const PATHS = (values.paths ?? 'relay,lan').split(',') as Array<'relay' | 'lan'>;
const CODEC = (values.codec ?? 'h264') as 'h264' | 'h265';
const REVOCATIONS = Number(values.revocations ?? 3);
const DEADLINE_S = Number(values['deadline-s'] ?? 300);
const PLAYER = values.player as 'webcodecs' | 'mse' | undefined;
if (PLAYER !== undefined && PLAYER !== 'webcodecs' && PLAYER !== 'mse') throw new Error('--player: webcodecs or mse');
for (const p of PATHS) if (p !== 'relay' && p !== 'lan') throw new Error(`--paths: unknown path ${p} (relay, lan)`);
if (!(TAPS >= 1) || !(WATCH_MS >= 1000)) throw new Error('--taps must be >= 1 and --watch-s >= 1');
if (!Number.isInteger(REVOCATIONS) || REVOCATIONS < 0 || REVOCATIONS > 10) throw new Error('--revocations: 0..10');
if (CODEC !== 'h264' && CODEC !== 'h265') throw new Error('--codec: h264 or h265');

const FPS = 15;
const GOP_MS = 2000; // the camera's default: a keyframe every 2 * fps frames
/** Every process started here dies by itself after this long, whatever happens to the bench. */
const PROCESS_LIMIT_S = DEADLINE_S + 30;
const FIRST_FRAME_TIMEOUT_MS = 15_000;
const SETTLED_MS = 1000;
const CAMERA = 'Glass camera';

let app: AppServer | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> => (cleaning ??= (async () => {
  await closeAllBrowsers().catch(() => undefined);
  await app?.close().catch(() => undefined);
  await stopAll().catch(() => undefined);
  await stopAllCameras().catch(() => undefined);
})());
const bail = (why: string, code: number): void => {
  console.error(why);
  void cleanup().finally(() => process.exit(code));
};
const deadline = setTimeout(() => bail(`bench:glass overran ${DEADLINE_S} s: stopping everything`, 1), DEADLINE_S * 1000);
deadline.unref();
process.once('SIGINT', () => bail('interrupted: stopping everything', 130));
process.once('SIGTERM', () => bail('terminated: stopping everything', 143));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const listReady = (page: Page) => page.waitForFunction(() => document.body.dataset.screen === 'cameras'
  && document.body.dataset.link === 'live' && document.querySelector('#cameras button[data-camera]') !== null, null, { timeout: 30_000 });

interface PathResult {
  path: 'relay' | 'lan';
  /** The app's player (#stats[data-player]): webcodecs, mse or mpeg1. */
  player: string;
  /** The hub's address the page's live WebSocket used at the end. */
  socket: string;
  taps: TapRecord[];
  /** The first tap after each revocation. */
  afterRevocation: RevocationTap[];
  /** Hub (node and its ffmpeg children) CPU over the tapping, % of one core. */
  hubCpu: number;
  /** The hub's child processes counted in hubCpu, by name. */
  children: string[];
}

interface RevocationTap {
  tap: TapRecord;
  /** The revocation asked of the hub, wall-clock ms. */
  revokedAt: number;
  /** The revocation to the hub's local API showing the new epoch, ms. */
  epochAfter: number;
  /** The first readable frame's capture time minus revokedAt, ms (negative: captured before it). */
  firstCapturedVsRevocation: number | undefined;
}

async function tapOnce(page: Page, layout: StampLayout): Promise<TapRecord> {
  await page.evaluate(armTap(layout));
  await page.tap('#cameras button[data-camera]');
  // The app's CSP forbids eval, so waitForFunction cannot take a string: poll, bounded.
  const until = performance.now() + FIRST_FRAME_TIMEOUT_MS;
  while (!(await page.evaluate(PAINTED) as boolean)) {
    if (performance.now() > until) throw new Error(`no frame presented within ${FIRST_FRAME_TIMEOUT_MS} ms of the tap`);
    await sleep(20);
  }
  await sleep(WATCH_MS);
  const rec = JSON.parse(await page.evaluate(COLLECT) as string) as TapRecord;
  await page.tap('#back');
  await listReady(page);
  return rec;
}

async function measurePath(path: 'relay' | 'lan', camera: { url: string; stamp: StampLayout }, relayUrl: string, appUrl: string): Promise<PathResult> {
  const hubDir = join(tempDir('vigil-bench-glass-'), 'hub');
  const args = ['hub', '--data', hubDir, '--relay', relayUrl, '--app-url', appUrl];
  if (FRAGMENT_MS !== undefined) args.push('--fragment-ms', FRAGMENT_MS);
  if (path === 'lan') args.push('--lan', '127.0.0.1:0');
  const hub: Running = start(VIGIL, args, { maxSeconds: PROCESS_LIMIT_S });
  await hub.waitFor(/hub [0-9a-f]+ running/);
  await hub.waitFor(/relay: ready/);
  const lanUrl = path === 'lan' ? (await hub.waitFor(/lan endpoint: (ws:\/\/\S+)/))[1]! : undefined;
  await addCamera(hubDir, CAMERA, camera.url);
  await waitForCameraState(hubDir, CAMERA, ['live'], 60_000);
  if (CODEC === 'h265') await hub.waitFor(/h264 profile: running/, 60_000).catch(() => undefined);

  // The viewers to revoke after the taps, paired before the browser so that its own pairing stays
  // the last epoch change before the first of the ordinary taps, as without them.
  const viewers: string[] = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    viewers.push((await pairPhone(hubDir, join(hubDir, '..', `viewer-${i}.json`), `Viewer ${i + 1}`, 'viewer')).deviceId);
  }

  const invite = start(VIGIL, ['invite', '--data', hubDir, '--yes'], { maxSeconds: 60 });
  const [, link] = await invite.waitFor(/pairing link: (\S+)/);
  const phone = await launchBrowser({ maxSeconds: PROCESS_LIMIT_S });
  const page = phone.page;
  if (PLAYER === 'mse') {
    await phone.context.addInitScript(() => {
      delete (window as unknown as Record<string, unknown>).VideoDecoder;
    });
  }
  const sockets: Array<{ url: string; closed: () => boolean }> = [];
  page.on('websocket', (ws) => sockets.push({ url: ws.url(), closed: () => ws.isClosed() }));
  await page.goto(appUrl);
  await page.waitForFunction(() => document.body.dataset.screen === 'pair', null, { timeout: 20_000 });
  await page.fill('#phone-name', 'Glass phone');
  await page.tap('#pair-form summary'); // "No camera? Paste the pairing link"
  await page.fill('#pair-link', link!);
  await page.tap('#pair-submit');
  await invite.waitFor(/paired "Glass phone" as owner/, 30_000);
  const pairedAt = performance.now();
  await listReady(page);
  await invite.stop();
  // A phone added now gets nothing captured before it was added (T3): the hub sends no cached GOP
  // that began before the pairing, so a tap within one GOP of it waits for the next keyframe (0-2 s,
  // by design; seen as a first tap of 0.5-1.5 s when the random wait below was short). The taps
  // measured are ordinary ones: they start once a GOP has begun since the pairing.
  await sleep(Math.max(0, pairedAt + GOP_MS - performance.now()));

  const pid = hub.child.pid!;
  let player = '?';
  const cpu0 = sampleTree(pid, ['ffmpeg']);
  const t0 = performance.now();
  const taps: TapRecord[] = [];
  for (let i = 0; i < TAPS; i++) {
    await sleep(Math.random() * GOP_MS); // a random moment of the GOP
    const rec = await tapOnce(page, layout(camera));
    taps.push(rec);
    player = await page.evaluate(() => document.getElementById('stats')?.dataset.player ?? '?');
    console.log(`  ${path} tap ${i + 1}: first frame ${fmt(rec.firstPainted)} after the tap, ${fmt(rec.samples[0]?.glass)} old; ` +
      `glass p50 ${fmt(percentile(rec.samples.map((s) => s.glass), 50))}, last ${fmt(rec.samples.at(-1)?.glass)}; ` +
      `${rec.samples.length} frames read, ${rec.unreadable} unreadable; held back p50 ${fmt(percentile(rec.samples.filter((s) => typeof s.behind === 'number').map((s) => s.behind * 1000), 50))}, ` +
      `rate up to ${Math.max(1, ...rec.samples.map((s) => s.rate)).toFixed(2)}`);
  }
  const d = treeDelta(cpu0, sampleTree(pid, ['ffmpeg']));
  const hubCpu = ((d.self + d.children) / ((performance.now() - t0) / 1000)) * 100;

  const afterRevocation: RevocationTap[] = [];
  const api = await runningHub(hubDir);
  if (api === undefined && viewers.length > 0) throw new Error('the hub\'s local API is not there');
  for (const [i, viewer] of viewers.entries()) {
    await sleep(Math.random() * GOP_MS); // a random moment of the GOP, as the taps
    const before = (await api!.call('status')).epoch;
    const revokedAt = Date.now();
    const r = await api!.call('revokePhone', viewer);
    if (!r.revoked) throw new Error(`viewer ${viewer} was not revoked`);
    await waitUntil('the hub\'s new epoch', async () => (await api!.call('status')).epoch > before, 20_000, 20);
    const epochAfter = Date.now() - revokedAt;
    const tap = await tapOnce(page, layout(camera));
    const s0 = tap.samples[0];
    const firstCapturedVsRevocation = s0 === undefined ? undefined : tap.tapWall + s0.since - s0.glass - revokedAt;
    afterRevocation.push({ tap, revokedAt, epochAfter, firstCapturedVsRevocation });
    console.log(`  ${path} first tap after revocation ${i + 1} (new epoch ${epochAfter} ms after the revoke): first frame ${fmt(tap.firstPainted)} after the tap, ` +
      `${fmt(s0?.glass)} old, captured ${capturedWhen(firstCapturedVsRevocation)}; glass p50 ${fmt(percentile(tap.samples.map((x) => x.glass), 50))}`);
  }
  const open = sockets.filter((s) => !s.closed()).map((s) => s.url);
  const socket = open.at(-1) ?? 'none';
  if (lanUrl !== undefined && !open.some((u) => u.startsWith(lanUrl))) console.log(`  warning: the app is not on the LAN endpoint ${lanUrl} (open: ${open.join(', ')})`);
  if (path === 'relay' && !open.some((u) => u.startsWith(relayUrl))) console.log(`  warning: the app is not on the relay ${relayUrl} (open: ${open.join(', ')})`);
  if (phone.problems.some((p) => !p.includes('favicon'))) console.log(`  page problems: ${phone.problems.filter((p) => !p.includes('favicon')).join(' | ')}`);
  await phone.close();
  await hub.stop();
  if (PLAYER !== undefined && player !== PLAYER) console.log(`  warning: the app played with ${player}, not ${PLAYER}`);
  return { path, player, socket, taps, afterRevocation, hubCpu, children: d.childNames };
}

const layout = (camera: { stamp: StampLayout }): StampLayout => camera.stamp;
const capturedWhen = (ms: number | undefined): string => ms === undefined ? 'n/a'
  : ms < 0 ? `${Math.round(-ms)} ms before the revocation (the cached GOP)` : `${Math.round(ms)} ms after the revocation`;
const fmt = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${Math.round(n)} ms`);
const dist = (xs: number[]): string => `p50 ${fmt(percentile(xs, 50))}, p90 ${fmt(percentile(xs, 90))}, p99 ${fmt(percentile(xs, 99))}, max ${fmt(Math.max(...xs))}`;

function report(r: PathResult): string {
  const all: GlassSample[] = r.taps.flatMap((t) => t.samples);
  const glass = all.map((s) => s.glass);
  const settled = all.filter((s) => s.since >= SETTLED_MS).map((s) => s.glass);
  const medians = r.taps.map((t) => percentile(t.samples.map((s) => s.glass), 50));
  const first = r.taps.map((t) => t.firstPainted ?? Number.NaN);
  const firstAge = r.taps.map((t) => t.samples[0]?.glass ?? Number.NaN);
  // The WebCodecs player has no buffered range to read (null in the record): left out.
  const behind = all.filter((s) => s.since >= SETTLED_MS && typeof s.behind === 'number' && Number.isFinite(s.behind)).map((s) => s.behind * 1000);
  const unreadable = r.taps.reduce((n, t) => n + t.unreadable, 0);
  const name = r.path === 'relay' ? 'relay' : 'LAN endpoint';
  console.log(`${name} (${r.socket}), player ${r.player}, ${r.taps.length} taps, ${all.length} frames read (${unreadable} unreadable)`);
  console.log(`  glass to glass, every frame        ${dist(glass)}`);
  console.log(`  glass to glass, from ${SETTLED_MS / 1000} s after tap  ${dist(settled)}`);
  console.log(`  per-tap medians                    ${fmt(Math.min(...medians))} .. ${fmt(Math.max(...medians))}`);
  console.log(`  tap to first frame                 ${dist(first)}`);
  console.log(`  first frame's age                  ${dist(firstAge)}`);
  console.log(`  player holds back (settled)        p50 ${fmt(percentile(behind, 50))}, max ${fmt(Math.max(...behind))}`);
  console.log(`  hub CPU (node + ${r.children.join(", ") || "no ffmpeg found"})  ${r.hubCpu.toFixed(1)}% of one core`);
  if (r.afterRevocation.length > 0) {
    const firsts = r.afterRevocation.map((x) => x.tap.firstPainted ?? Number.NaN);
    const before = r.afterRevocation.filter((x) => x.firstCapturedVsRevocation !== undefined && x.firstCapturedVsRevocation < 0).length;
    console.log(`  first tap after a revocation (${r.afterRevocation.length}): tap to first frame ${dist(firsts)}; ` +
      `first frame's age ${dist(r.afterRevocation.map((x) => x.tap.samples[0]?.glass ?? Number.NaN))}; ` +
      `${before} of ${r.afterRevocation.length} started with frames captured before the revocation`);
  }
  const settings = `${CODEC === 'h265' ? 'h264 profile, ' : ''}--fragment-ms ${FRAGMENT_MS ?? 'default'}`;
  const revoked = r.afterRevocation.map((x) => x.tap.firstPainted ?? Number.NaN);
  return `| ${name} | ${r.player} | ${settings} | ${fmt(percentile(glass, 50))} | ${fmt(percentile(glass, 90))} | ${fmt(percentile(glass, 99))} | ${fmt(Math.max(...glass))} | ` +
    `${fmt(percentile(settled, 50))} / ${fmt(percentile(settled, 99))} | ${fmt(percentile(first, 50))} / ${fmt(Math.max(...first))} | ` +
    `${revoked.length === 0 ? 'n/a' : revoked.map((x) => fmt(x)).join(', ')} | ${r.hubCpu.toFixed(1)}% |`;
}

try {
  console.log(machineLine());
  console.log(`bench:glass: camera 640x360@${FPS} ${CODEC}, keyframe every ${GOP_MS / 1000} s, stamped; hub --fragment-ms ${FRAGMENT_MS ?? 'default'}; ` +
    `${TAPS} taps of ${WATCH_MS / 1000} s per path (${PATHS.join(', ')}), then ${REVOCATIONS} after a revocation`);
  const dir = tempDir('vigil-bench-glass-');
  const [built, camera] = await Promise.all([
    buildApp({ out: join(dir, 'app') }),
    startCamera({ codec: CODEC, size: '640x360', fps: FPS, stamp: true, runSeconds: PROCESS_LIMIT_S }),
  ]);
  if (camera.info.stamp === null) throw new Error('the test camera did not report its stamp layout');
  app = await serveApp({ dir: built.dir });
  const relay = start(VIGIL, ['relay', '--listen', '127.0.0.1:0'], { maxSeconds: PROCESS_LIMIT_S });
  const [, relayUrl] = await relay.waitFor(/relay listening on (ws:\/\/127\.0\.0\.1:\d+\/v1)/);
  const rows: string[] = [];
  for (const path of PATHS) {
    const r = await measurePath(path, { url: camera.url, stamp: camera.info.stamp }, relayUrl!, app.url);
    rows.push(report(r));
  }
  console.log('\n| path | player | settings | p50 | p90 | p99 | max | settled p50 / p99 | tap to first frame p50 / max | first tap after a revocation | hub CPU |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} catch (e) {
  console.error(`bench:glass failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(deadline);
}
