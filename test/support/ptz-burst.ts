// A phone that sends many PTZ moves at once in one session (what a stolen owner phone would do),
// for test/e2e/onvif-commands.test.ts. Prints one JSON line per event:
//   {"event":"sent","n":N}  {"event":"done","n":N}  {"event":"refused","n":N,"message":...}
//   {"event":"settled"} once every command has an answer or timed out.
// usage: node --import tsx test/support/ptz-burst.ts PROFILE CAMERA_NAME COUNT SECONDS TIMEOUT_MS
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cryptoReady } from '../../crypto/sodium.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';

const [profilePath, cameraName, countText, secondsText, timeoutText] = process.argv.slice(2);
const count = Number(countText);
const seconds = Number(secondsText);
const timeoutMs = Number(timeoutText);
if (profilePath === undefined || cameraName === undefined || !(count >= 1 && count <= 64) || !(seconds > 0) || !(timeoutMs > 0)) {
  console.error('usage: ptz-burst.ts PROFILE CAMERA_NAME COUNT SECONDS TIMEOUT_MS');
  process.exit(2);
}
const say = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

await cryptoReady();
const link = new HubLink({
  profile: profileFromJson(readFileSync(profilePath, 'utf8')),
  relayFactory: (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor }),
  path: 'relay',
  commandTimeoutMs: timeoutMs,
});
try {
  const camera = (await link.listCameras()).find((c) => c.name === cameraName);
  if (camera === undefined) throw new Error(`no camera ${cameraName}`);
  // Sent one after another without waiting for answers: they reach the hub in order, in one session.
  const answers: Promise<void>[] = [];
  for (let n = 0; n < count; n++) {
    const answer = link.command('ptz', { camera: camera.id, move: [0.5, 0, 0], seconds });
    say({ event: 'sent', n });
    answers.push(answer.then(() => say({ event: 'done', n }), (e: unknown) => say({ event: 'refused', n, message: e instanceof Error ? e.message : String(e) })));
  }
  await Promise.all(answers);
  say({ event: 'settled' });
} finally {
  await link.close();
}
