// Restore approved by owner phones (main/backup/restore-approvals.ts, crypto/backup-restore.ts,
// PROTOCOL §18.5), without a relay: phones' messages go straight into the new machine's RestoreDesk.
// k approvals from the owner phones the backup's key was split for restore the hub; a share handed
// to another device, a share of another split, one phone twice, or too few: no restore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cryptoReady } from '../../crypto/sodium.ts';
import { fromBase64url, toHex } from '../../crypto/bytes.ts';
import { issueCertificate } from '../../crypto/certificate.ts';
import { exportHubIdentity, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { openBackupShare, type BackupShare } from '../../crypto/backup.ts';
import {
  acceptRestoreApproval, formatRestoreLink, newRestoreInvite, parseRestoreLink, startRestoreApproval, type RestoreAnswer,
} from '../../crypto/backup-restore.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../../crypto/messages.ts';
import { HubBackup } from '../../main/backup/service.ts';
import { readRecovery } from '../../main/backup/recovery.ts';
import { RestoreDesk } from '../../main/backup/restore-approvals.ts';
import { openStore } from '../../main/store/db.ts';

const root = mkdtempSync(join(tmpdir(), 'vigil-restore-approvals-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let hub: HubIdentity;
let anna: DeviceIdentity;
let ben: DeviceIdentity;
let viewer: DeviceIdentity;
let blob: Uint8Array;
let benBlob: Uint8Array;
const shares = new Map<DeviceIdentity, BackupShare>();

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  const store = openStore(join(root, 'old'));
  store.saveHubIdentity(exportHubIdentity(hub));
  const add = (name: string, role: 'owner' | 'viewer') => {
    const d = newDeviceIdentity();
    store.addDevice({ name, certificate: issueCertificate(hub, {
      deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
      relayKey: newSigningKeyPair('relay').publicKey,
    }, role, Math.floor(Date.now() / 1000)) });
    return d;
  };
  anna = add('Anna', 'owner');
  ben = add('Ben', 'owner');
  viewer = add('Vic', 'viewer');
  const service = new HubBackup(store, hub);
  blob = service.current()!.blob;
  // Phones that fetch at different times keep different backups of the same split.
  store.statement("UPDATE counters SET value = value + 600000 WHERE name = 'segment'").run();
  benBlob = service.current()!.blob;
  expect(Buffer.from(benBlob).equals(Buffer.from(blob))).toBe(false);
  const owners = readRecovery(store).owners!;
  for (const d of [anna, ben]) shares.set(d, openBackupShare(fromBase64url(owners.shares[toHex(d.deviceId)]!), d, hub.hubId));
  store.close();
});

/** A new machine waiting for approvals, and a phone that goes through the whole exchange with it. */
function newMachine(dir: string) {
  const { invite, key } = newRestoreInvite({ relays: ['ws://127.0.0.1:1/v1'], now: Date.now() / 1000, ttlSeconds: 60 });
  const link = formatRestoreLink(invite);
  const inbox = new Map<string, Uint8Array[]>();
  const desk = new RestoreDesk({
    dataDir: join(root, dir), invite, key,
    send: async (to, payload) => void (inbox.get(toHex(to)) ?? inbox.set(toHex(to), []).get(toHex(to))!).push(payload),
    log: () => undefined,
  });
  let relayIds = 0;
  const approve = async (device: DeviceIdentity, share: BackupShare): Promise<RestoreAnswer> => {
    const from = new Uint8Array(32).fill(++relayIds);
    const copy = { ...share, share: { x: share.share.x, y: share.share.y.slice() } };
    const phone = startRestoreApproval({ invite: parseRestoreLink(link, Date.now() / 1000), device, hubId: hub.hubId, share: copy, blob: device === ben ? benBlob : blob });
    copy.share.y.fill(0); // as phone/core/backup-restore.ts does: the share is not kept past the start
    desk.onMailboxMessage(invite.mailboxId, from, encodeEnvelope(Envelope.RESTORE_1, phone.message1));
    await Promise.resolve();
    const m2 = decodeEnvelope(inbox.get(toHex(from))!.shift()!);
    expect(m2.kind).toBe(Envelope.RESTORE_2);
    desk.onMailboxMessage(invite.mailboxId, from, encodeEnvelope(Envelope.RESTORE_APPROVAL, phone.readMessage2(m2.body)));
    await Promise.resolve();
    const answer = decodeEnvelope(inbox.get(toHex(from))!.shift()!);
    expect(answer.kind).toBe(Envelope.RESTORE_ANSWER);
    return phone.readAnswer(answer.body);
  };
  return { desk, approve, invite, key };
}

describe('restore approved by owner phones', () => {
  it('2 of 2 owner phones restore the same hub; the roster entry names them', async () => {
    const m = newMachine('two');
    expect(await m.approve(anna, shares.get(anna)!)).toMatchObject({ state: 'accepted', have: 1, need: 2 });
    expect(m.desk.progress).toEqual({ have: 1, need: 2 });
    expect(await m.approve(ben, shares.get(ben)!)).toMatchObject({ state: 'restored', have: 2, need: 2, hubId: toHex(hub.hubId) });
    const outcome = await m.desk.restored;
    expect(outcome.hubId).toBe(toHex(hub.hubId));
    const store = openStore(join(root, 'two'));
    const last = store.rosterLog(0, 100).at(-1)!;
    store.close();
    expect(Buffer.from(last.entry).includes(Buffer.from("owner phones 'Anna', 'Ben'"))).toBe(true);
  });

  it('a share handed to a device that is not an owner the key was split for is refused; nothing is restored until an owner approves', async () => {
    const m = newMachine('stolen');
    expect(await m.approve(anna, shares.get(anna)!)).toMatchObject({ state: 'accepted', have: 1 });
    // The viewer holds Ben's opened share: the shares rebuild the key, but the viewer is no owner.
    const refused = await m.approve(viewer, shares.get(ben)!);
    expect(refused).toMatchObject({ state: 'refused', have: 1, need: 2 });
    expect(refused.reason).toMatch(/not among the owner phones/);
    const store = openStore(join(root, 'stolen'));
    expect(store.getHubIdentity()).toBeUndefined();
    store.close();
    expect(await m.approve(ben, shares.get(ben)!)).toMatchObject({ state: 'restored', have: 2 });
  });

  it('one phone twice is one approval; a share of another split is refused', async () => {
    const m = newMachine('twice');
    expect(await m.approve(anna, shares.get(anna)!)).toMatchObject({ state: 'accepted', have: 1 });
    expect(await m.approve(anna, shares.get(anna)!)).toMatchObject({ state: 'refused', have: 1, reason: expect.stringMatching(/approved already/) });
    const other = { ...shares.get(ben)!, keyId: new Uint8Array(16).fill(7) };
    expect(await m.approve(ben, other)).toMatchObject({ state: 'refused', have: 1, reason: expect.stringMatching(/another split/) });
    expect(m.desk.progress).toEqual({ have: 1, need: 2 });
  });

  it('a machine that does not hold the invite\'s key gets nothing: the phone stops at message 2', () => {
    const { invite } = newRestoreInvite({ relays: ['ws://127.0.0.1:1/v1'], now: Date.now() / 1000, ttlSeconds: 60 });
    const impostor = newRestoreInvite({ relays: ['ws://127.0.0.1:1/v1'], now: Date.now() / 1000, ttlSeconds: 60 });
    const phone = startRestoreApproval({ invite, device: anna, hubId: hub.hubId, share: shares.get(anna)!, blob });
    let err: unknown;
    try {
      // The impostor answers with the same secret but its own key: the IK handshake does not even read.
      const attempt = acceptRestoreApproval(invite, impostor.key, phone.message1);
      phone.readMessage2(attempt.message2);
    } catch (e) {
      err = e;
    }
    expect(isCryptoError(err), String(err)).toBe(true);
  });

  it('an expired or changed restore link is refused', () => {
    const { invite } = newRestoreInvite({ relays: ['ws://127.0.0.1:1/v1'], now: 1000, ttlSeconds: 60 });
    const link = formatRestoreLink(invite);
    expect(() => parseRestoreLink(link, 2000)).toThrow(/expired/);
    expect(() => parseRestoreLink(`${link}AA`, 1000)).toThrow();
    expect(() => parseRestoreLink(link.replace('restore', 'pair'), 1000)).toThrow(/restore link/);
  });
});
