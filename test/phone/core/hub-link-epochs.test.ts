// Epoch rollback across streams (issue 14, finding 2). Epochs are hub-wide, but a phone kept its
// rollback floor per camera number: a stream missing from the newest key update (a camera's h264
// profile right after a hub start, before its transcoder first ran) took a replayed key update of
// an older epoch and opened that epoch's frames. Real hub sessions, keys and crypto; the relay is
// in memory and hostile.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { newHubIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { Envelope, encodeEnvelope } from '../../../crypto/messages.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { profileNumber } from '../../../main/media/profile-feed.ts';
import { profileFromJson, profileToJson } from '../../../phone/core/profile.ts';
import { FakeHub, settle, until } from './fake-hub.ts';

const CAMERA = { id: '00112233445566778899aabbccddeeff', number: 1 };
const PROFILE = { id: CAMERA.id, number: profileNumber(CAMERA.number)! };

let identity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  identity = newHubIdentity();
});

const hubs: FakeHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** Frames of the profile stream sealed in the hub's current epoch, as a relay would keep them. */
function profileFrames(hub: FakeHub, n: number): Uint8Array[] {
  const sealer = hub.keys.sealer(PROFILE.number)!;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const frame = sealer.seal({ track: 'video', captureTime: Date.now(), frameType: i === 0 ? 'keyframe' : 'delta', payload: new Uint8Array([i]) });
    out.push(encodeEnvelope(Envelope.FRAME, frame));
  }
  return out;
}

/**
 * Epoch 1: camera and profile keyed; the relay keeps the phone's offline key update and some of the
 * profile's frames. Epoch 2 (the hub restarted): only the camera is keyed so far.
 */
function recordThenRestart(hub: FakeHub): { oldUpdate: Uint8Array; oldFrames: Uint8Array[] } {
  hub.keys.begin(1, [CAMERA, PROFILE], []);
  const recorded = { oldUpdate: hub.offlineKeyUpdate(), oldFrames: profileFrames(hub, 5) };
  hub.keys.begin(2, [CAMERA], []);
  hub.start();
  return recorded;
}

describe('finding 2: one hub-wide epoch floor per phone', () => {
  it('a replayed key update of an older epoch opens nothing of a stream the newest update lacks', async () => {
    const hub = new FakeHub(identity);
    hubs.push(hub);
    const { oldUpdate, oldFrames } = recordThenRestart(hub);
    const opened: OpenedFrame[] = [];
    const link = hub.link({ onFrame: (f) => opened.push(f) });
    await link.ready();
    expect(link.currentEpoch).toBe(2);

    const replayedBefore = link.counters.replayed;
    hub.relay.inject(oldUpdate);
    for (const f of oldFrames) hub.relay.inject(f);
    await settle();
    expect(opened.filter((f) => f.cameraNumber === PROFILE.number)).toHaveLength(0);
    expect(link.counters.replayed - replayedBefore).toBeGreaterThanOrEqual(1);
    expect(link.currentEpoch).toBe(2);
  });

  it('the floor is saved in the profile: after a restart of the phone, the old update is still refused', async () => {
    const hub = new FakeHub(identity);
    hubs.push(hub);
    const { oldUpdate, oldFrames } = recordThenRestart(hub);
    const saved: string[] = [];
    const first = hub.link({ onProfileChanged: (p) => saved.push(profileToJson(p)) });
    await first.ready();
    await first.close();
    const profile = profileFromJson(saved.at(-1)!);
    expect(profile.epochFloor).toBe(2);

    // The phone starts again; before any handshake, the relay hands it the old update and frames.
    hub.relay.filter = (to) => to !== 'hub';
    const opened: OpenedFrame[] = [];
    const again = hub.link({ onFrame: (f) => opened.push(f) }, profile);
    hub.relay.inject(oldUpdate);
    for (const f of oldFrames) hub.relay.inject(f);
    await settle();
    expect(opened).toHaveLength(0);
    expect(again.currentEpoch).toBe(-1);
  });

  it('the profile\'s key added later in the same epoch is still taken, and its frames open', async () => {
    const hub = new FakeHub(identity);
    hubs.push(hub);
    recordThenRestart(hub);
    const opened: OpenedFrame[] = [];
    const link = hub.link({ onFrame: (f) => opened.push(f) });
    await link.ready();
    // The camera turns out to be H.265: the hub keys its profile in epoch 2 and sends the update again.
    hub.keys.addCamera(PROFILE);
    hub.relay.inject(hub.offlineKeyUpdate());
    await new Promise((r) => setImmediate(r));
    const frames = profileFrames(hub, 3);
    for (const f of frames) hub.relay.inject(f);
    await until('the new epoch\'s profile frames to open', () => opened.length >= frames.length);
    expect(opened.every((f) => f.cameraNumber === PROFILE.number && f.epoch === 2)).toBe(true);
  });
});
