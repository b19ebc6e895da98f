// The backup's version (main/backup/payload.ts materialVersion, PROTOCOL §18.3): it moves when what a
// restore brings back changes, so owner phones keeping the backup fetch a new one, and not when a
// phone is seen or sends a command (each page request is a command: a fetch must get one blob).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cryptoReady } from '../../crypto/sodium.ts';
import { issueCertificate } from '../../crypto/certificate.ts';
import { exportHubIdentity, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../crypto/identity.ts';
import { HubBackup } from '../../main/backup/service.ts';
import { RESTORE_COUNTER_GAP } from '../../main/backup/payload.ts';
import { newRecoveryCode } from '../../main/backup/recovery.ts';
import { openStore, type Store } from '../../main/store/db.ts';

const root = mkdtempSync(join(tmpdir(), 'vigil-backup-version-'));
let store: Store;
let hub: HubIdentity;
let backup: HubBackup;
const phones: string[] = [];

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  store = openStore(root);
  store.saveHubIdentity(exportHubIdentity(hub));
  for (const name of ['Anna', 'Ben']) {
    const d = newDeviceIdentity();
    phones.push(store.addDevice({ name, certificate: issueCertificate(hub, {
      deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
      relayKey: newSigningKeyPair('relay').publicKey,
    }, 'owner', Math.floor(Date.now() / 1000)) }).id);
  }
  newRecoveryCode(store);
  backup = new HubBackup(store, hub);
});

afterAll(() => {
  store.close();
  rmSync(root, { recursive: true, force: true });
});

const current = () => backup.current()!;

describe('the backup version', () => {
  it('stays, with the same blob, when a phone is seen or sends commands, or counters move a little', () => {
    const before = current();
    store.touchDevice(phones[0]!, Date.now() + 60_000);
    store.statement('UPDATE devices SET last_command_seq = ? WHERE id = ?').run('12345', phones[1]!);
    store.statement("UPDATE counters SET value = value + 1000 WHERE name = 'segment'").run();
    const after = current();
    expect(after.version).toBe(before.version);
    expect(after.blob).toBe(before.blob);
  });

  it('moves when a phone is removed, and when a counter moves half the restore gap', () => {
    const before = current();
    store.statement("UPDATE counters SET value = value + ? WHERE name = 'event'").run(RESTORE_COUNTER_GAP / 2);
    const counted = current();
    expect(counted.version).not.toBe(before.version);
    store.revokeDevice(phones[1]!);
    const removed = current();
    expect(removed.version).not.toBe(counted.version);
    expect(Buffer.from(removed.blob).equals(Buffer.from(counted.blob))).toBe(false);
  });
});
