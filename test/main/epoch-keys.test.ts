// EpochKeys on a manual clock, with real crypto: what each epoch keys, what a phone's key update
// carries and binds (the roster with each phone's role), when video may be sealed again under a new
// epoch (sharedSince, T3), and that a key update opens exactly the frames its epoch's sealers make.
import { beforeAll, describe, expect, it } from 'vitest';
import { FrameOpener, type FrameToSeal } from '../../crypto/frame.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { openKeyUpdate, type KeyUpdate } from '../../crypto/keyupdate.ts';
import { rosterHash, type RosterEntry } from '../../crypto/roster.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { EpochKeys } from '../../main/epoch-keys.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

const FRONT = { id: '00112233445566778899aabbccddeeff', number: 1 };
const BACK = { id: 'ffeeddccbbaa99887766554433221100', number: 2 };
const FRAME: FrameToSeal = { track: 'video', captureTime: 1_800_000_000_000, frameType: 'keyframe', payload: new Uint8Array([1, 2, 3]) };

function manualClock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

function phone(role: RosterEntry['role'] = 'owner'): { deviceId: Uint8Array; entry: RosterEntry } {
  const d = newDeviceIdentity();
  return { deviceId: d.deviceId, entry: { deviceId: d.deviceId, role } };
}

function update(keys: EpochKeys, recipient: Uint8Array): KeyUpdate {
  return openKeyUpdate(keys.keyUpdateFor(recipient), hubPublicKeys(hub), recipient);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('EpochKeys', () => {
  it('begin keys every camera with a fresh key and a sealer of that epoch; epochs only go forward', () => {
    const keys = new EpochKeys(hub);
    expect(keys.epoch).toBe(-1);
    const ana = phone();
    keys.begin(3, [FRONT, BACK], [ana.entry]);
    expect(keys.epoch).toBe(3);
    expect(keys.has(1) && keys.has(2)).toBe(true);
    expect(keys.has(3)).toBe(false);
    expect(keys.sealer(1)?.epoch).toBe(3);
    expect(keys.sealer(3)).toBeUndefined();
    const first = update(keys, ana.deviceId);
    expect(first.cameras.map((c) => c.cameraNumber).sort()).toEqual([1, 2]);
    const [k1, k2] = first.cameras.map((c) => hex(c.key.expose()));
    expect(k1).not.toBe(k2);

    expect(() => keys.begin(3, [FRONT], [ana.entry])).toThrow(/go forward/);
    expect(() => keys.begin(2, [FRONT], [ana.entry])).toThrow(/go forward/);
    keys.begin(4, [FRONT], [ana.entry]);
    const second = update(keys, ana.deviceId);
    expect(second.epoch).toBe(4);
    expect(second.cameras.map((c) => c.cameraNumber)).toEqual([1]);
    expect(hex(second.cameras[0]!.key.expose())).not.toBe(hex(first.cameras.find((c) => c.cameraNumber === 1)!.key.expose()));
    expect(keys.sealer(2)).toBeUndefined();
  });

  it('a key update is signed for one phone, at the clock\'s time, and binds the roster with each phone\'s role', () => {
    const clock = manualClock();
    const keys = new EpochKeys(hub, clock.now);
    const owner = phone('owner');
    const viewer = phone('viewer');
    keys.begin(1, [FRONT], [owner.entry, viewer.entry]);
    clock.advance(5_000);
    const forOwner = update(keys, owner.deviceId);
    const forViewer = update(keys, viewer.deviceId);
    expect(forOwner.issuedAt).toBe(clock.now());
    expect(hex(forOwner.recipient)).toBe(hex(owner.deviceId));
    expect(hex(forViewer.recipient)).toBe(hex(viewer.deviceId));
    // Both roles get the same camera keys and see the same roster, roles included.
    expect(hex(forViewer.cameras[0]!.key.expose())).toBe(hex(forOwner.cameras[0]!.key.expose()));
    expect(hex(forOwner.rosterHash)).toBe(hex(rosterHash(1, [owner.entry, viewer.entry])));
    expect(hex(forViewer.rosterHash)).toBe(hex(forOwner.rosterHash));
    expect(hex(forOwner.rosterHash)).not.toBe(hex(rosterHash(1, [owner.entry, { ...viewer.entry, role: 'owner' }])));
    // Another phone cannot open the one signed for the owner.
    expect(() => openKeyUpdate(keys.keyUpdateFor(owner.deviceId), hubPublicKeys(hub), viewer.deviceId)).toThrow();
  });

  it('the key in a phone\'s update opens the frames of its epoch\'s sealer, and no other epoch\'s', () => {
    const keys = new EpochKeys(hub);
    const ana = phone();
    keys.begin(1, [FRONT], [ana.entry]);
    const epoch1 = keys.sealer(1)!.seal(FRAME);
    const opener = new FrameOpener();
    const addKeys = (u: KeyUpdate) => {
      for (const c of u.cameras) opener.addKey({ hubId: hub.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: u.epoch, key: c.key });
    };
    addKeys(update(keys, ana.deviceId));
    expect(opener.open(epoch1).payload).toEqual(FRAME.payload);
    keys.begin(2, [FRONT], [ana.entry]);
    const epoch2 = keys.sealer(1)!.seal(FRAME);
    expect(() => opener.open(epoch2)).toThrow(); // no key of epoch 2 yet
    addKeys(update(keys, ana.deviceId));
    expect(opener.open(epoch2).epoch).toBe(2);
  });

  it('sharedSince moves only when the roster gains a phone; startedAt with every epoch', () => {
    const clock = manualClock();
    const keys = new EpochKeys(hub, clock.now);
    const ana = phone();
    const bob = phone('viewer');
    keys.begin(1, [FRONT], [ana.entry, bob.entry]);
    const t1 = clock.now();
    expect(keys.startedAt).toBe(t1);
    expect(keys.sharedSince).toBe(t1); // the first epoch
    clock.advance(60_000);
    keys.begin(2, [FRONT], [ana.entry]); // Bob removed: video since t1 was seen by Ana only, or Bob too
    expect(keys.startedAt).toBe(t1 + 60_000);
    expect(keys.sharedSince).toBe(t1);
    clock.advance(60_000);
    keys.begin(3, [FRONT], [ana.entry]); // the daily rotation: nobody new
    expect(keys.sharedSince).toBe(t1);
    clock.advance(60_000);
    const cleo = phone('viewer');
    keys.begin(4, [FRONT], [ana.entry, cleo.entry]); // Cleo added: nothing from before her is hers (T3)
    expect(keys.sharedSince).toBe(t1 + 180_000);
    clock.advance(60_000);
    keys.begin(5, [FRONT], [ana.entry, bob.entry]); // Bob back, Cleo gone: Bob is new again
    expect(keys.sharedSince).toBe(t1 + 240_000);
  });

  it('addCamera keys one more stream in the current epoch, once, and not before the first epoch', () => {
    const keys = new EpochKeys(hub);
    const ana = phone();
    expect(() => keys.addCamera(BACK)).toThrow(/no epoch yet/);
    keys.begin(7, [FRONT], [ana.entry]);
    const before = update(keys, ana.deviceId);
    const profile = { id: FRONT.id, number: FRONT.number | 0x4000_0000 }; // a camera's h264 profile
    keys.addCamera(profile);
    expect(keys.has(profile.number)).toBe(true);
    expect(keys.sealer(profile.number)?.epoch).toBe(7);
    const after = update(keys, ana.deviceId);
    expect(after.epoch).toBe(7);
    expect(after.cameras.map((c) => c.cameraNumber).sort((a, b) => a - b)).toEqual([1, profile.number]);
    // The camera keyed already keeps its key: a second sealer would fork its counter.
    expect(hex(after.cameras.find((c) => c.cameraNumber === 1)!.key.expose())).toBe(hex(before.cameras[0]!.key.expose()));
    expect(() => keys.addCamera(FRONT)).toThrow(/already has a key/);
    expect(() => keys.addCamera(profile)).toThrow(/already has a key/);
  });
});
