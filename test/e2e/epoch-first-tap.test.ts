// The first tap after an epoch change (issue 20): after a removal the hub seals its cached GOP again
// under the new epoch, so a remaining phone's picture starts at once, while the removed phone's old
// keys open none of it (T2); after an addition the new phone gets nothing captured before it was
// added (T3). Real hub, relay, camera and phone core; the camera's 15 s GOP makes "the cached GOP"
// and "the next keyframe" far apart in capture time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cryptoReady } from '../../crypto/sodium.ts';
import type { OpenedFrame } from '../../crypto/frame.ts';
import { Envelope } from '../../crypto/messages.ts';
import { RelayClient, type MediaMessage, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson, type PhoneProfile } from '../../phone/core/profile.ts';
import { startCamera, stopAllCameras, type TestCamera } from '../support/camera/camera.ts';
import {
  VIGIL, VIGIL_PHONE, addCamera, pairPhone, run, start, startHub, startRelay, stopAll, tempDir, waitForCameraState,
} from '../support/system.ts';

const CAMERA = 'Hall';
const FPS = 15;
const GOP_SECONDS = 15;

let dir: string;
let camera: TestCamera;
const hub = () => join(dir, 'hub');
const profiles = { watcher: '', tapper: '', removed: '' };
let removedId = '';

/** Every frame a link receives as it came off the wire (topic media and direct FRAME envelopes). */
interface Received {
  at: number;
  kind: 'media' | 'direct';
  payload: Uint8Array;
  media?: MediaMessage;
}

function recordingLink(path: string, onFrame: (f: OpenedFrame) => void) {
  const wire: Received[] = [];
  const made: RelayClientOptions[] = [];
  const factory = (options: RelayClientOptions) => {
    made.push(options);
    return new RelayClient({
      ...options,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      onMedia: (m) => {
        wire.push({ at: Date.now(), kind: 'media', payload: Uint8Array.from(m.payload), media: m });
        options.onMedia?.(m);
      },
      onMessage: (from, payload) => {
        if (payload[0] === Envelope.FRAME) wire.push({ at: Date.now(), kind: 'direct', payload: Uint8Array.from(payload) });
        options.onMessage?.(from, payload);
      },
    });
  };
  const profile: PhoneProfile = profileFromJson(readFileSync(path, 'utf8'));
  const link = new HubLink({ profile, relayFactory: factory, onFrame });
  return { link, wire, made, profile };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Seen extends OpenedFrame {
  arrivedAt: number;
}

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  camera = await startCamera({ codec: 'h264', size: '640x360', fps: FPS, gop: FPS * GOP_SECONDS });
  const relay = await startRelay('127.0.0.1:0');
  await startHub(hub(), relay.url, ['--no-lan']);
  await addCamera(hub(), CAMERA, camera.url);
  profiles.watcher = join(dir, 'watcher.json');
  profiles.tapper = join(dir, 'tapper.json');
  profiles.removed = join(dir, 'removed.json');
  await pairPhone(hub(), profiles.watcher, 'Watcher');
  await pairPhone(hub(), profiles.tapper, 'Tapper', 'viewer');
  removedId = (await pairPhone(hub(), profiles.removed, 'Removed', 'viewer')).deviceId;
  await waitForCameraState(hub(), CAMERA, ['live']);
}, 150_000);

afterAll(async () => {
  await stopAll();
  await stopAllCameras();
});

describe('the first tap after an epoch change', () => {
  const watcherFrames: Seen[] = [];
  let watcher: ReturnType<typeof recordingLink>;
  let cam: Awaited<ReturnType<HubLink['listCameras']>>[number];

  beforeAll(async () => {
    // A phone that watches through both changes.
    watcher = recordingLink(profiles.watcher, (f) => watcherFrames.push({ ...f, arrivedAt: Date.now() }));
    [cam] = await watcher.link.listCameras() as [typeof cam];
    await watcher.link.watch(cam);
  }, 30_000);

  afterAll(async () => {
    await watcher?.link.close();
  });

  it('after a removal: a remaining phone\'s first tap gets the cached GOP at once under the new epoch; the removed phone opens none of it (T2)', async () => {
    const removedFrames: OpenedFrame[] = [];
    const removed = recordingLink(profiles.removed, (f) => removedFrames.push(f));
    await removed.link.watch(cam);
    // A fresh GOP has begun on the camera: the hub's cached GOP starts with this keyframe.
    const seenBefore = watcherFrames.length;
    await until('a keyframe', () => watcherFrames.slice(seenBefore).some((f) => f.frameType === 'keyframe'), (GOP_SECONDS + 5) * 1000);
    await until('the removed phone\'s picture', () => removedFrames.some((f) => f.frameType === 'keyframe'), 5000);
    const oldEpoch = removed.link.currentEpoch;
    const cachedKeyframe = watcherFrames.slice(seenBefore).find((f) => f.frameType === 'keyframe')!;

    const revokedAt = Date.now();
    const r = await run(VIGIL, ['devices', 'revoke', '--data', hub(), removedId]);
    expect(r.code, r.stderr).toBe(0);
    const wireFrom = { watcher: watcher.wire.length };

    // A remaining phone taps now.
    const tapperFrames: Seen[] = [];
    const tapper = recordingLink(profiles.tapper, (f) => tapperFrames.push({ ...f, arrivedAt: Date.now() }));
    await tapper.link.ready();
    await until('the tapper\'s key update', () => tapper.link.currentEpoch > oldEpoch, 10_000);
    const tappedAt = Date.now();
    await tapper.link.watch(cam);
    await until('the tapper\'s first keyframe', () => tapperFrames.some((f) => f.frameType === 'keyframe'), (GOP_SECONDS + 5) * 1000);
    const first = tapperFrames.find((f) => f.frameType === 'keyframe')!;
    // The cached GOP (captured before the removal), sealed under the new epoch, at once: not the
    // camera's next keyframe, up to a GOP later.
    expect(first.epoch).toBeGreaterThan(oldEpoch);
    expect(first.captureTime).toBe(cachedKeyframe.captureTime);
    expect(first.captureTime).toBeLessThan(revokedAt);
    expect(first.arrivedAt - tappedAt).toBeLessThan(2000);

    await until('the watcher\'s new epoch', () => watcherFrames.some((f) => f.epoch > oldEpoch && f.frameType !== 'init'), 5000);

    // Everything the hub sent either phone since the removal, handed to the removed phone by a
    // relay that ignores the revocation: its old keys open none of it, the old GOP included.
    await until('the removed phone told', () => removed.link.linkState === 'removed', 10_000);
    // Enough of it to prove something: the tapper's cached GOP and a few seconds of the watcher's.
    const sentSince = () => [...watcher.wire.slice(wireFrom.watcher), ...tapper.wire];
    await until('ten frames sent since the removal', () => sentSince().length > 10, 10_000);
    const sent = sentSince();
    const opts = removed.made[0]!;
    const opened = removed.link.counters.opened;
    const afterRemoval = removedFrames.length;
    for (const w of sent) {
      if (w.kind === 'media') opts.onMedia!({ ...w.media!, hubRelayId: removed.profile.hub.relayKey, payload: w.payload });
      else opts.onMessage!(removed.profile.hub.relayKey, w.payload);
    }
    expect(removed.link.counters.opened).toBe(opened);
    expect(removedFrames.slice(afterRemoval).every((f) => f.epoch <= oldEpoch)).toBe(true);
    await tapper.link.close();
    await removed.link.close();
  }, 90_000);

  it('after an addition: the new phone gets nothing captured before it was added, nor does any watcher under the new epoch (T3)', async () => {
    // The invite is ready before the GOP begins, so that pairing fits in the GOP.
    const invite = start(VIGIL, ['invite', '--data', hub(), '--yes'], { maxSeconds: 90 });
    const [, inviteLink] = await invite.waitFor(/pairing link: (\S+)/);
    const seenBefore = watcherFrames.length;
    await until('a keyframe', () => watcherFrames.slice(seenBefore).some((f) => f.frameType === 'keyframe'), (GOP_SECONDS + 5) * 1000);
    const cachedKeyframe = watcherFrames.slice(seenBefore).find((f) => f.frameType === 'keyframe')!;
    const epochBefore = watcher.link.currentEpoch;

    const addedAt = Date.now();
    const newcomer = join(dir, 'newcomer.json');
    const pair = await run(VIGIL_PHONE, ['pair', inviteLink!, '--profile', newcomer, '--name', 'Newcomer'], { timeoutMs: 60_000 });
    expect(pair.code, pair.stderr).toBe(0);
    await invite.waitFor(/paired "Newcomer"/);
    await invite.stop();
    const newFrames: Seen[] = [];
    const added = recordingLink(newcomer, (f) => newFrames.push({ ...f, arrivedAt: Date.now() }));
    const tappedAt = Date.now();
    await added.link.watch(cam);
    await until('the newcomer\'s init segment', () => newFrames.some((f) => f.frameType === 'init'), 5000);
    await until('the newcomer\'s first keyframe', () => newFrames.some((f) => f.frameType === 'keyframe'), (GOP_SECONDS + 5) * 1000);
    // The hub's cached GOP at the tap began before the addition (else this test proves nothing):
    // no keyframe between the one seen before pairing and the tap.
    expect(cachedKeyframe.captureTime).toBeLessThan(addedAt);
    expect(watcherFrames.some((f) => f.frameType === 'keyframe' && f.captureTime > cachedKeyframe.captureTime && f.arrivedAt < tappedAt), 'pairing took longer than a GOP: inconclusive').toBe(false);

    // Nothing the new phone opened was captured before it was added.
    const media = newFrames.filter((f) => f.frameType !== 'init');
    expect(media.length).toBeGreaterThan(0);
    expect(media.every((f) => f.captureTime >= addedAt)).toBe(true);
    // And the watcher was sent nothing from before the addition under the new epoch (on the topic,
    // which the new phone may be subscribed to, or directly).
    const newEpoch = watcherFrames.filter((f) => f.epoch > epochBefore && f.frameType !== 'init');
    expect(newEpoch.length).toBeGreaterThan(0);
    expect(newEpoch.every((f) => f.captureTime >= addedAt)).toBe(true);
    await added.link.close();
  }, 120_000);
});
