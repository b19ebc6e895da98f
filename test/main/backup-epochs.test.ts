// Recording epochs in the backup (PROTOCOL §18.1, §18.4): a new epoch moves the backup's version; a
// restore brings back every phone's sealed seed byte for byte, so the restored hub hands phones the
// keys to recordings made before; a backup whose sealed seed is listed under another phone, or whose
// epoch is signed under another number, is refused before anything is written; a backup made before
// epochs were carried still restores (with none).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cryptoReady } from '../../crypto/sodium.ts';
import { issueCertificate } from '../../crypto/certificate.ts';
import { decodeRecoveryCode, sealBackup } from '../../crypto/backup.ts';
import { exportHubIdentity, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../crypto/identity.ts';
import { HubBackup } from '../../main/backup/service.ts';
import { exportPayload, type BackupPayload } from '../../main/backup/payload.ts';
import { newRecoveryCode, readRecovery, recipientsOf } from '../../main/backup/recovery.ts';
import { restoreHub } from '../../main/backup/restore.ts';
import { RecordingEpochs } from '../../main/recording/epochs.ts';
import { RecordingIndex } from '../../main/store/recordings.ts';
import { openStore, type Store } from '../../main/store/db.ts';

const root = mkdtempSync(join(tmpdir(), 'vigil-backup-epochs-'));
let store: Store;
let hub: HubIdentity;
let code = '';
const phones: string[] = [];

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  store = openStore(join(root, 'hub'));
  store.saveHubIdentity(exportHubIdentity(hub));
  for (const name of ['Anna', 'Ben']) {
    const d = newDeviceIdentity();
    phones.push(store.addDevice({ name, certificate: issueCertificate(hub, {
      deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey,
      relayKey: newSigningKeyPair('relay').publicKey,
    }, 'owner', Math.floor(Date.now() / 1000)) }).id);
  }
  code = newRecoveryCode(store);
});

afterAll(() => {
  store.close();
  rmSync(root, { recursive: true, force: true });
});

/** A backup of `payload`, sealed as the hub seals its own. */
function sealed(payload: BackupPayload | Record<string, unknown>): Uint8Array {
  return sealBackup(hub.hubId, Date.now(), recipientsOf(readRecovery(store)), new TextEncoder().encode(JSON.stringify(payload)));
}

function restore(dir: string, blob: Uint8Array): ReturnType<typeof restoreHub> {
  const seed = decodeRecoveryCode(code);
  try {
    return restoreHub(join(root, dir), blob, seed, 'the printed recovery code');
  } finally {
    seed.wipe();
  }
}

describe('recording epochs in the backup', () => {
  const index = () => new RecordingIndex(store);

  it('a new recording epoch moves the backup version; a restore brings back every sealed seed as it was', () => {
    const backup = new HubBackup(store, hub);
    const epochs = new RecordingEpochs({ identity: hub, index: index(), devices: () => store.listDevices() });
    epochs.rotate('start');
    const before = backup.current()!;
    epochs.rotate('daily');
    const after = backup.current()!;
    expect(after.version).not.toBe(before.version);

    const outcome = restore('restored', after.blob);
    // No segment yet: only the newest epoch, the one recording now, is carried.
    expect(outcome.recordingEpochs).toBe(1);
    const back = openStore(join(root, 'restored'));
    try {
      const restored = new RecordingIndex(back);
      for (const phone of phones) {
        const mine = index().keysFor(phone, 2, 12);
        expect(mine).toHaveLength(1);
        expect(restored.keysFor(phone, 0, 12)).toEqual(mine);
      }
    } finally {
      back.close();
    }
  });

  it('refuses a sealed seed listed under another phone, and an epoch signed under another number, writing nothing', () => {
    const payload = JSON.parse(new TextDecoder().decode(exportPayload(store, hub))) as BackupPayload;
    const e = payload.recordingEpochs[0]!;
    const swapped = { ...payload, recordingEpochs: [{ ...e, keys: e.keys.map((k, i) => ({ ...k, deviceId: e.keys[1 - i]!.deviceId })) }] };
    expect(() => restore('swapped', sealed(swapped))).toThrow(/not addressed to the phone and epoch/);
    const renumbered = { ...payload, recordingEpochs: [{ ...e, number: e.number + 1 }] };
    expect(() => restore('renumbered', sealed(renumbered))).toThrow(/signed as another/);
    for (const dir of ['swapped', 'renumbered']) {
      const s = openStore(join(root, dir));
      expect(s.getHubIdentity()).toBeUndefined();
      s.close();
    }
  });

  it('a backup made before epochs were carried restores with none', () => {
    const payload = JSON.parse(new TextDecoder().decode(exportPayload(store, hub))) as Record<string, unknown>;
    delete payload.recordingEpochs;
    expect(restore('older', sealed(payload)).recordingEpochs).toBe(0);
  });
});
