// History sharing (PROTOCOL §15.7) in one process: a real store, recording epochs and roster log on
// the hub side, the hub's handlers behind a link that signs nothing (crypto/command.ts's checks
// are tested on their own), and the owner phone's side (phone/core/history-share.ts) on top. The
// receiving phone then opens epochs it was paired after; a hub that swaps in keys of its own, a
// seed addressed elsewhere, or an epoch the owner never held is refused; the log entry checks.
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url, toHex } from '../../../crypto/bytes.ts';
import { ROLE_ALLOWS, type Action } from '../../../crypto/command.ts';
import { issueCertificate, encodeCertificate, type Role } from '../../../crypto/certificate.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { CommandRefused, READ_ARGS, type ArgsOf, type ResultOf } from '../../../crypto/phone-commands.ts';
import { openEpochKey, sealEpochKey, newRecordingEpoch } from '../../../crypto/recording.ts';
import { EMPTY_ROSTER, GENESIS, entryHash, extendRoster, signRosterEntry } from '../../../crypto/roster-log.ts';
import { Secret } from '../../../crypto/secret.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import { HistoryShare } from '../../../main/phones/commands/history-share.ts';
import { HubRosterLog, rosterReport } from '../../../main/phones/roster-log.ts';
import { RecordingEpochs } from '../../../main/recording/epochs.ts';
import type { Device } from '../../../main/store/db.ts';
import { RecordingIndex } from '../../../main/store/recordings.ts';
import { HistoryShareError, shareHistory, type HistoryShareLink } from '../../../phone/core/history-share.ts';
import type { PhoneProfile } from '../../../phone/core/profile.ts';
import { RecordingKeyring } from '../../../phone/core/recordings.ts';
import { RosterCheck, describeAlert, emptyRosterState } from '../../../phone/core/roster.ts';
import { outcome } from '../../crypto/kat-support.ts';
import { open, tempDataDir } from '../store/helpers.ts';

let hub: HubIdentity;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

interface Phone {
  identity: DeviceIdentity;
  device: Device;
  profile: PhoneProfile;
}

function rig() {
  const store = open(tempDataDir());
  const index = new RecordingIndex(store);
  const log = new HubRosterLog(hub, store);
  const epochs = new RecordingEpochs({ identity: hub, index, devices: () => store.listDevices() });
  const told: number[] = [];
  const share = new HistoryShare({ store, index, rosterLog: log, hubId: hub.hubId, told: (n) => told.push(n) });
  const pair = (name: string, role: Role): Phone => {
    const identity = newDeviceIdentity();
    const certificate = issueCertificate(hub, {
      deviceId: identity.deviceId, signingKey: identity.signing.publicKey, exchangeKey: identity.exchange.publicKey, pqKey: identity.pq.publicKey,
      relayKey: sodium().randombytes_buf(32),
    }, role, 1_800_000_000);
    const device = store.addDevice({ name, certificate });
    log.append('added', device, 'the hub\'s owner (local API)');
    epochs.rotate('device-added');
    const profile = { device: identity, hub: hubPublicKeys(hub), certificate, name } as unknown as PhoneProfile;
    return { identity, device, profile };
  };
  return { store, index, log, epochs, share, told, pair };
}

type Rig = ReturnType<typeof rig>;

/** The phone's link, straight to the hub's handlers, with ROLE_ALLOWS and READ_ARGS as the hub applies them. */
function linkOf(r: Rig, phone: Phone, tamper: { certificate?: (c: string) => string } = {}): HistoryShareLink {
  const check = new RosterCheck(hubPublicKeys(hub), phone.identity.deviceId, emptyRosterState());
  const call = async <A extends Action>(action: A, args: ArgsOf<A>): Promise<ResultOf<A>> => {
    const device = r.store.getDevice(phone.device.id)!;
    if (device.revokedAt !== null || !ROLE_ALLOWS[device.role].includes(action)) throw new CommandRefused('forbidden', `role ${device.role} may not ${action}`);
    const ctx = { device, seq: 1n };
    const read = READ_ARGS[action](JSON.parse(JSON.stringify(args))) as never;
    switch (action) {
      case 'recording-keys': {
        const since = (read as ArgsOf<'recording-keys'>).since ?? 0;
        const keys = r.index.keysFor(device.id, since, 3).map((k) => ({ epoch: toBase64url(k.epoch.epoch), sealed: toBase64url(k.sealed) }));
        return { keys } as ResultOf<A>;
      }
      case 'roster-log':
        return { entries: r.log.since((read as ArgsOf<'roster-log'>).since).map(toBase64url), length: r.log.length() } as ResultOf<A>;
      case 'device-certificate': {
        const got = await r.share.certificate(read, ctx);
        return { certificate: tamper.certificate ? tamper.certificate(got.certificate) : got.certificate } as ResultOf<A>;
      }
      case 'share-history':
        return (await r.share.share(read, ctx)) as ResultOf<A>;
      default:
        throw new Error(`not in this test: ${action}`);
    }
  };
  const link = {
    command: call,
    rosterLog: check,
    async syncRoster() {
      const since = Math.max(0, check.length - 1);
      const wires = (await call('roster-log', { since })).entries.map((e) => fromBase64url(e));
      if (check.length > 0) check.sameHead(wires.shift());
      check.extend(wires);
    },
  };
  return link as unknown as HistoryShareLink;
}

/** The epochs whose seeds `phone` can open now, from what the hub hands it. */
async function opens(r: Rig, phone: Phone): Promise<number[]> {
  const keyring = new RecordingKeyring(phone.profile);
  const link = linkOf(r, phone);
  keyring.take((await link.command('recording-keys', {})).keys);
  for (let since = (keyring.newest ?? 0) + 1, i = 0; i < 50; i++) {
    const got = keyring.take((await link.command('recording-keys', { since })).keys);
    if (got.newestNamed === undefined) break;
    since = got.newestNamed + 1;
  }
  const held = r.index.epochs().map((e) => e.number).filter((n) => keyring.has(n));
  keyring.wipe();
  return held;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'done', (e: unknown) => (e instanceof CommandRefused || e instanceof HistoryShareError ? e.code : `not a refusal: ${String(e)}`));
}

describe('history sharing', () => {
  it('an owner shares what it holds: the later phone opens epochs from before it was paired, and the log says so', async () => {
    const r = rig();
    const owner = pair(r, 'Anna', 'owner');
    for (let i = 0; i < 4; i++) r.epochs.rotate('daily');
    const later = pair(r, 'Pixel 8', 'viewer');
    const before = await opens(r, later);
    expect(before).toEqual([6]); // only the epoch made when it joined
    const out = await shareHistory(linkOf(r, owner), owner.profile, { to: 'Pixel 8' });
    expect(out.epochs).toEqual([1, 2, 3, 4, 5, 6]);
    expect({ stored: out.stored, held: out.held }).toEqual({ stored: 5, held: 1 });
    expect(await opens(r, later)).toEqual([1, 2, 3, 4, 5, 6]);
    // The entry: signed, in the chain, naming who shared what with whom; no membership changed.
    const report = rosterReport(hub, r.store);
    const entry = report.entries.at(-1)!;
    expect(entry).toMatchObject({ change: 'history-shared', deviceId: later.device.id, name: 'Pixel 8', by: `owner phone "Anna" (${owner.device.id.slice(0, 8)})` });
    expect(entry.history).toEqual({ from: owner.device.id, firstEpoch: 1, lastEpoch: 5, epochs: 5 });
    expect(r.told).toEqual([report.length]);
    // The receiving phone sees it as an alert.
    const laterLink = linkOf(r, later);
    await laterLink.syncRoster();
    const alert = laterLink.rosterLog.saved.alerts.find((a) => a.change === 'history-shared');
    expect(alert && describeAlert(alert)).toMatch(/^phone "Pixel 8" \(\w{8}\) was given 5 recording epochs \(1\.\.5\) recorded before, shared by owner phone "Anna"/);
    // Sharing again stores nothing and adds no entry.
    const again = await shareHistory(linkOf(r, owner), owner.profile, { to: later.device.id.slice(0, 10) });
    expect({ stored: again.stored, held: again.held, entries: again.entries }).toEqual({ stored: 0, held: 6, entries: [] });
    expect(rosterReport(hub, r.store).length).toBe(report.length);
  });

  it('--from: only epochs that reach past that time', async () => {
    const r = rig();
    const owner = pair(r, 'Anna', 'owner');
    let t = 1_000_000;
    const epochs = new RecordingEpochs({ identity: hub, index: r.index, devices: () => r.store.listDevices(), now: () => t });
    for (let i = 0; i < 4; i++) {
      t += 3600_000;
      epochs.rotate('daily'); // 2..5 at 1 h steps
    }
    const later = pair(r, 'Later', 'viewer');
    const out = await shareHistory(linkOf(r, owner), owner.profile, { to: 'Later', from: 1_000_000 + 3.5 * 3600_000 });
    // Epoch 4 began at 3 h and lasts to 4 h: it reaches past 3.5 h; 5 and 6 too; 1-3 do not.
    expect(out.epochs).toEqual([4, 5, 6]);
    expect(await opens(r, later)).toEqual([4, 5, 6]);
  });

  it('a viewer cannot share; a removed phone cannot receive; nor can a phone share with itself', async () => {
    const r = rig();
    const owner = pair(r, 'Anna', 'owner');
    const viewer = pair(r, 'Guest', 'viewer');
    const gone = pair(r, 'Gone', 'viewer');
    expect(await refusal(shareHistory(linkOf(r, viewer), viewer.profile, { to: 'Gone' }))).toBe('forbidden');
    // Straight to the hub with a well-formed seed, as a modified phone would: still refused.
    const seed = new Secret(sodium().randombytes_buf(32), 'test seed');
    const sealed = toBase64url(sealEpochKey(hub.hubId, 1, seed, { deviceId: gone.identity.deviceId, pqKey: gone.identity.pq.publicKey }));
    expect(await refusal(linkOf(r, viewer).command('share-history', { to: gone.device.id, keys: [{ epoch: 1, sealed }] }))).toBe('forbidden');
    r.store.revokeDevice(gone.device.id);
    r.log.append('removed', r.store.getDevice(gone.device.id)!, 'test');
    expect(await refusal(linkOf(r, owner).command('share-history', { to: gone.device.id, keys: [{ epoch: 1, sealed }] }))).toBe('no-such-phone');
    expect(await refusal(linkOf(r, owner).command('device-certificate', { device: gone.device.id }))).toBe('no-such-phone');
    expect(await refusal(shareHistory(linkOf(r, owner), owner.profile, { to: 'Gone' }))).toBe('no-such-phone');
    expect(await refusal(shareHistory(linkOf(r, owner), owner.profile, { to: 'Anna' }))).toBe('is-me');
    // Epochs 1 and 2 were made before it joined: none reached it.
    expect([1, 2].map((n) => r.index.hasKey(gone.device.id, n))).toEqual([false, false]);
  });

  it('the hub refuses a seed of the wrong size or address, or of an epoch the owner does not hold', async () => {
    const r = rig();
    const owner = pair(r, 'Anna', 'owner');
    const later = pair(r, 'Later', 'viewer');
    r.epochs.rotate('daily'); // 3: both hold it
    const seed = new Secret(sodium().randombytes_buf(32), 'test seed');
    const to = { deviceId: later.identity.deviceId, pqKey: later.identity.pq.publicKey };
    const send = (epoch: number, sealed: Uint8Array, toId = later.device.id) => refusal(linkOf(r, owner).command('share-history', { to: toId, keys: [{ epoch, sealed: toBase64url(sealed) }] }));
    const good = sealEpochKey(hub.hubId, 1, seed, to);
    expect(await send(1, good.subarray(1))).toBe('bad-arguments');
    expect(await send(2, good)).toBe('bad-arguments'); // names epoch 1 inside
    expect(await send(1, sealEpochKey(newHubIdentity().hubId, 1, seed, to))).toBe('bad-arguments');
    expect(await send(1, sealEpochKey(hub.hubId, 1, seed, { deviceId: owner.identity.deviceId, pqKey: owner.identity.pq.publicKey }))).toBe('bad-arguments');
    expect(await send(99, sealEpochKey(hub.hubId, 99, seed, to))).toBe('bad-arguments');
    // Epoch 2 was made when Later joined: the owner holds it. Make one only Later holds, then have Later's key "shared" by the owner.
    const ownerless = r.index.nextEpochNumber();
    const made = newRecordingEpoch(hub, ownerless, 1);
    r.index.saveEpoch({ number: ownerless, createdAtMs: 1, epoch: new Uint8Array(0) }, [{ deviceId: later.device.id, sealed: sealEpochKey(hub.hubId, ownerless, made.seed, to) }]);
    const third = pair(r, 'Third', 'viewer');
    const toThird = { deviceId: third.identity.deviceId, pqKey: third.identity.pq.publicKey };
    expect(await send(ownerless, sealEpochKey(hub.hubId, ownerless, seed, toThird), third.device.id)).toBe('no-recording-key');
    expect(await refusal(linkOf(r, owner).command('share-history', { to: later.device.id, keys: [] }))).toBe('bad-arguments');
    // Nothing was stored by any of these, and the log did not grow.
    expect(rosterReport(hub, r.store).entries.some((e) => e.change === 'history-shared')).toBe(false);
  });

  it('the owner phone refuses keys the hub swapped in: the certificate must be the one the log lists', async () => {
    const r = rig();
    const owner = pair(r, 'Anna', 'owner');
    pair(r, 'Later', 'viewer');
    // A hub that hands out a certificate of a key it holds, signed by itself, for the same device id.
    const evil = newDeviceIdentity();
    const later = r.store.listDevices().find((d) => d.name === 'Later')!;
    const swapped = (): string => toBase64url(encodeCertificate(issueCertificate(hub, {
      deviceId: fromBase64url(toBase64url(Buffer.from(later.id, 'hex'))), signingKey: evil.signing.publicKey, exchangeKey: evil.exchange.publicKey,
      pqKey: evil.pq.publicKey, relayKey: sodium().randombytes_buf(32),
    }, 'viewer', 1_800_000_000)));
    expect(await refusal(shareHistory(linkOf(r, owner, { certificate: swapped }), owner.profile, { to: 'Later' }))).toBe('certificate-refused');
    // Another hub's signature: refused as well.
    const other = newHubIdentity();
    const foreign = (): string => toBase64url(encodeCertificate(issueCertificate(other, {
      deviceId: Buffer.from(later.id, 'hex'), signingKey: evil.signing.publicKey, exchangeKey: evil.exchange.publicKey, pqKey: evil.pq.publicKey, relayKey: sodium().randombytes_buf(32),
    }, 'viewer', 1_800_000_000)));
    expect(await refusal(shareHistory(linkOf(r, owner, { certificate: foreign }), owner.profile, { to: 'Later' }))).toBe('certificate-refused');
    expect(rosterReport(hub, r.store).entries.some((e) => e.change === 'history-shared')).toBe(false);
  });

  it('a log entry sharing history from a viewer, or to a phone not on the roster, does not check', () => {
    const a = newDeviceIdentity().deviceId;
    const b = newDeviceIdentity().deviceId;
    const entries: Uint8Array[] = [];
    const add = (e: Parameters<typeof signRosterEntry>[1] extends infer T ? Omit<T & object, 'seq' | 'prev' | 'at' | 'fingerprint'> : never) => {
      const prev = entries.length === 0 ? GENESIS : entryHash(entries.at(-1)!);
      entries.push(signRosterEntry(hub, { seq: entries.length, prev, at: 1, fingerprint: new Uint8Array(32), ...e }));
    };
    add({ change: 'added', deviceId: a, name: 'a', role: 'viewer', by: 'x' });
    add({ change: 'added', deviceId: b, name: 'b', role: 'viewer', by: 'x' });
    const base = entries.length;
    add({ change: 'history-shared', deviceId: b, name: 'b', role: 'viewer', by: 'x', history: { from: a, firstEpoch: 1, lastEpoch: 2, epochs: 2 } });
    expect(outcome(() => extendRoster(EMPTY_ROSTER, entries, hubPublicKeys(hub)))).toBe('tampered');
    entries.length = base;
    add({ change: 'added', deviceId: a, name: 'a', role: 'owner', by: 'x' }); // now an owner
    add({ change: 'history-shared', deviceId: b, name: 'b', role: 'viewer', by: 'x', history: { from: a, firstEpoch: 1, lastEpoch: 2, epochs: 2 } });
    const { view, entries: read } = extendRoster(EMPTY_ROSTER, entries, hubPublicKeys(hub));
    expect(read.at(-1)!.history).toEqual({ from: a, firstEpoch: 1, lastEpoch: 2, epochs: 2 });
    expect(view.members.size).toBe(2);
    add({ change: 'history-shared', deviceId: newDeviceIdentity().deviceId, name: 'c', role: 'viewer', by: 'x', history: { from: a, firstEpoch: 1, lastEpoch: 1, epochs: 1 } });
    expect(outcome(() => extendRoster(EMPTY_ROSTER, entries, hubPublicKeys(hub)))).toBe('tampered');
    // The history fields go with 'history-shared' only, and a range must hold its count.
    expect(() => signRosterEntry(hub, { seq: 0, prev: GENESIS, at: 1, change: 'added', deviceId: a, fingerprint: new Uint8Array(32), name: 'a', role: 'owner', by: 'x', history: { from: a, firstEpoch: 1, lastEpoch: 1, epochs: 1 } })).toThrow(RangeError);
    const bad = signRosterEntry(hub, { seq: 0, prev: GENESIS, at: 1, change: 'history-shared', deviceId: a, fingerprint: new Uint8Array(32), name: 'a', role: 'owner', by: 'x', history: { from: a, firstEpoch: 1, lastEpoch: 1, epochs: 3 } });
    expect(outcome(() => extendRoster(EMPTY_ROSTER, [bad], hubPublicKeys(hub)))).toBe('malformed');
  });

  it('the shared seed opens for the receiving phone only', () => {
    const a = newDeviceIdentity();
    const b = newDeviceIdentity();
    const seed = new Secret(sodium().randombytes_buf(32), 'test seed');
    const sealed = sealEpochKey(hub.hubId, 4, seed, { deviceId: b.deviceId, pqKey: b.pq.publicKey });
    expect(toHex(openEpochKey(sealed, b, hub.hubId).seed.expose())).toBe(toHex(seed.expose()));
    expect(outcome(() => openEpochKey(sealed, a, hub.hubId))).toBe('not-for-me');
  });
});

function pair(r: Rig, name: string, role: Role): Phone {
  return r.pair(name, role);
}
