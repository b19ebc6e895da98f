// `npm run demo`: the whole system on this machine with embedded defaults: a relay on loopback, a hub
// with its data in .vigil/demo, a demo camera (an ffmpeg test pattern) when no camera is configured,
// and a pairing link with its QR code. Nothing is announced on the LAN: everything stays on 127.0.0.1.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline/promises';
import QRCode from 'qrcode';
import { startRelay } from '../relay/server.ts';
import { resolveFfmpeg } from '../native/ffmpeg.ts';
import { Hub } from './hub.ts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DATA = process.env.VIGIL_DEMO_DIR ?? join(ROOT, '.vigil', 'demo');
const RELAY_PORT = Number(process.env.VIGIL_DEMO_RELAY_PORT ?? 8787);

function say(line = ''): void {
  console.log(line);
}

async function main(): Promise<void> {
  try {
    const ffmpeg = await resolveFfmpeg();
    say(`ffmpeg: ${ffmpeg.path} (${ffmpeg.source})`);
  } catch (e) {
    say(`Vigil needs ffmpeg to read cameras. ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
    return;
  }
  const relay = await startRelay({ host: '127.0.0.1', port: RELAY_PORT });
  say(`relay: ${relay.url} (embedded, loopback only)`);
  const hub = await Hub.start({ dataDir: DATA, relays: [relay.url], log: (l) => { if (process.env.VIGIL_DEMO_VERBOSE) say(`  hub: ${l}`); } });
  say(`hub: data in ${DATA}; local API ${hub.apiUrl}`);
  if (hub.store.listCameras().length === 0) {
    hub.addCamera({ name: 'Demo', url: 'test-pattern:', kind: 'test-pattern' });
    say('camera: none configured, so a demo camera "Demo" (an ffmpeg test pattern) was added');
    say('        add a real one with: ./bin/vigil camera add --data .vigil/demo --name Door rtsp://user:pass@CAMERA/stream');
  } else {
    say(`cameras: ${hub.store.listCameras().map((c) => c.name).join(', ')}`);
  }

  const stop = async () => {
    say('\nstopping...');
    await hub.close();
    await relay.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  const rl = process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
  const pairOne = async () => {
    const invite = await hub.desk.createInvite(600);
    say('\nPair a phone: scan this code with the phone app, or in another terminal run');
    say(`  ./bin/vigil-phone pair '${invite.link}' --profile phone.json`);
    say(await QRCode.toString(invite.link, { type: 'terminal', small: true }));
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
        say(`paired "${device.name}". Now watch the demo camera for 10 seconds:`);
        say(`  ./bin/vigil-phone watch --profile phone.json --camera ${hub.store.listCameras()[0]?.name ?? 'Demo'} --seconds 10 --out demo.mp4`);
        return;
      }
      if (status && status.state !== 'waiting') return;
      await new Promise((r) => setTimeout(r, 300));
    }
    say('the pairing code expired; restart the demo for a new one.');
  };
  await pairOne();
  say('\nThe hub keeps running; Ctrl-C stops everything.');
}

await main();
