// `npm run demo`: the whole system on this machine, on loopback only: a relay, a hub with its data in
// .vigil/demo, a demo camera (an ffmpeg test pattern) when no camera is configured, the hub's UI and
// the phone app. It prints two links, the hub UI (with its token) and the phone app, and a pairing
// link to paste into the phone app (or give the command-line phone). Nothing is announced on the LAN.
//
// Ports (0 = any free one): VIGIL_DEMO_RELAY_PORT (8787), VIGIL_DEMO_UI_PORT (8788),
// VIGIL_DEMO_APP_PORT (8789). Fixed by default, so the links and the phone app's pairing (kept by the
// browser per address) survive a restart. VIGIL_DEMO_DIR: the hub's data; VIGIL_DEMO_APPROVE=1
// approves the first phone without asking; VIGIL_DEMO_VERBOSE=1 shows the hub's log.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline/promises';
import { startRelay, type RelayHandle } from '../relay/server.ts';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { serveApp, type AppServer } from '../phone/app/serve.ts';
import { ensureBuilt } from '../tools/build.ts';
import { Hub } from './hub.ts';
import { createUiServer } from './ui/ui-server.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DATA = process.env.VIGIL_DEMO_DIR ?? join(ROOT, '.vigil', 'demo');

function say(line = ''): void {
  console.log(line);
}

function port(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new Error(`${name} must be a port number 0..65535 (0: any free port), not ${JSON.stringify(text)}`);
  return n;
}

/** A listen failure said plainly: the usual one is a second demo, or anything else, on that port. */
function listenError(what: string, envName: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE') return `${what}: port ${process.env[envName] ?? 'default'} is taken (is a demo already running?); choose another with ${envName}=PORT (0: any free port)`;
  return `${what}: ${e instanceof Error ? e.message : String(e)}`;
}

async function main(): Promise<void> {
  const ports = { relay: port('VIGIL_DEMO_RELAY_PORT', 8787), ui: port('VIGIL_DEMO_UI_PORT', 8788), app: port('VIGIL_DEMO_APP_PORT', 8789) };
  try {
    const ffmpeg = await resolveFfmpeg();
    say(`ffmpeg: ${ffmpeg.path} (${ffmpeg.source})`);
  } catch (e) {
    say(`Vigil needs ffmpeg to read cameras. ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
    return;
  }
  // `npm ci` built both; this rebuilds what a pull or an edit has changed since.
  await ensureBuilt(['renderer', 'phone-app'], (l) => say(l));

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  let relay: RelayHandle;
  let app: AppServer;
  let hub: Hub;
  try {
    relay = await startRelay({ host: '127.0.0.1', port: ports.relay }).catch((e: unknown) => { throw new Error(listenError('relay', 'VIGIL_DEMO_RELAY_PORT', e)); });
    closers.push(() => relay.close());
    app = await serveApp({ host: '127.0.0.1', port: ports.app }).catch((e: unknown) => { throw new Error(listenError('phone app', 'VIGIL_DEMO_APP_PORT', e)); });
    closers.push(() => app.close());
    const ui = createUiServer();
    hub = await Hub.start({
      dataDir: DATA, relays: [relay.url], apiHost: '127.0.0.1', apiPort: ports.ui, uiHandler: ui.handler,
      // Pairing links open the phone app straight into pairing (the invite stays in the # part).
      appUrl: app.url,
      log: (l) => { if (process.env.VIGIL_DEMO_VERBOSE) say(`  hub: ${l}`); },
    }).catch((e: unknown) => { throw new Error(listenError('hub', 'VIGIL_DEMO_UI_PORT', e)); });
    closers.push(() => hub.close());
    ui.attach(hub);
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    await closeAll();
    process.exitCode = 1;
    return;
  }
  say(`relay: ${relay.url} (embedded, loopback only)`);
  say(`hub: data in ${DATA}`);
  if (hub.store.listCameras().length === 0) {
    hub.cameras.add({ name: 'Demo', url: 'test-pattern:', kind: 'test-pattern' });
    say('camera: none configured, so a demo camera "Demo" (an ffmpeg test pattern) was added');
    say(`        add a real one with: ./bin/vigil camera add --data ${DATA} --name Door rtsp://user:pass@CAMERA/stream`);
  } else {
    say(`cameras: ${hub.store.listCameras().map((c) => c.name).join(', ')}`);
  }
  const camera = hub.store.listCameras()[0]?.name ?? 'Demo';
  say('');
  say(`hub UI:    ${hub.apiUrl}/?token=${encodeURIComponent(hub.apiToken)}`);
  say('           (the hub\'s own screen: cameras, phones, pairing; the token in the link is the key to it)');
  say(`phone app: ${app.url}`);
  say('           (open it in another browser tab: that tab is the phone)');

  const stop = async () => {
    say('\nstopping...');
    await closeAll();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  const rl = process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
  // While the question waits, Ctrl-C reaches readline, not the process.
  rl?.on('SIGINT', () => void stop());
  const pairOne = async () => {
    const invite = await hub.desk.createInvite(600);
    say('\nPair a phone: in the phone app, paste this pairing link under "No camera? Paste the pairing link"');
    say('(or open the link itself in the browser), then compare the 6-digit code:');
    say(`  ${invite.link}`);
    say('or pair the command-line phone from another terminal:');
    say(`  ./bin/vigil-phone pair '${invite.link}' --profile phone.json`);
    while (Date.now() / 1000 < invite.expiresAt) {
      const status = hub.desk.status(invite.id);
      if (status?.state === 'confirm') {
        say(`phone "${status.name}" shows code ${status.code.slice(0, 3)} ${status.code.slice(3)}`);
        let ok = process.env.VIGIL_DEMO_APPROVE === '1';
        if (!ok && rl) ok = /^y(es)?$/i.test((await rl.question('Same code on the phone? Approve it [y/N] ')).trim());
        if (!ok) {
          await hub.desk.refuse(invite.id);
          say('refused.');
          return;
        }
        const device = await hub.desk.approve(invite.id, 'owner');
        say(`paired "${device.name}". In the phone app, choose "${camera}" to watch it live; with the command-line phone:`);
        say(`  ./bin/vigil-phone watch --profile phone.json --camera ${camera} --seconds 10 --out demo.mp4`);
        return;
      }
      if (status && status.state !== 'waiting') return;
      await new Promise((r) => setTimeout(r, 300));
    }
    say('the pairing link expired; pair from the hub UI ("Pair a phone"), or restart the demo for a new link.');
  };
  await pairOne();
  rl?.close();
  say('\nThe hub keeps running; pair more phones from the hub UI ("Pair a phone"). Ctrl-C stops everything.');
}

await main();
