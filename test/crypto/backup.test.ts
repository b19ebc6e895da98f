// The hub's backup (crypto/backup.ts, PROTOCOL §18): sealed to the printed code and to the owners'
// split key; opens with either, and with nothing else. Every changed byte is a typed error.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  BACKUP_LAYOUT, backupAddress, combineBackupShares, decodeRecoveryCode, encodeRecoveryCode, newRecoveryKey, openBackup, openBackupShare,
  recoveryKeyId, sealBackup, sealBackupShare, type BackupShare, type RecoveryKey,
} from '../../crypto/backup.ts';
import { splitSecret } from '../../crypto/shamir.ts';
import { isCryptoError, type CryptoErrorCode } from '../../crypto/errors.ts';
import { toHex, utf8 } from '../../crypto/bytes.ts';

let hub: HubIdentity;
let phones: DeviceIdentity[];
let code: RecoveryKey;
let owners: RecoveryKey;
const payload = utf8('{"hub":"identity and rows"}');

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  phones = [newDeviceIdentity(), newDeviceIdentity(), newDeviceIdentity()];
  code = newRecoveryKey();
  owners = newRecoveryKey();
});

function fails(f: () => unknown, code: CryptoErrorCode): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isCryptoError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}

function blob(): Uint8Array {
  return sealBackup(hub.hubId, 1_700_000_000_000, [
    { kind: 'code', publicKey: code.publicKey, k: 1, n: 1 },
    { kind: 'owners', publicKey: owners.publicKey, k: 2, n: 3 },
  ], payload);
}

function sharesFor(): BackupShare[] {
  return splitSecret(owners.seed.expose(), 3, 2).map((share) => ({ hubId: hub.hubId, keyId: owners.keyId, k: 2, n: 3, share }));
}

describe('the backup blob', () => {
  it('opens with the code\'s seed and with the owners\' seed; names hub, time and recipients without opening', () => {
    const b = blob();
    expect(toHex(openBackup(b, code.seed).payload)).toBe(toHex(payload));
    expect(toHex(openBackup(b, owners.seed).payload)).toBe(toHex(payload));
    const a = backupAddress(b);
    expect(toHex(a.hubId)).toBe(toHex(hub.hubId));
    expect(a.madeAt).toBe(1_700_000_000_000);
    expect(a.recipients.map((r) => [r.kind, r.k, r.n, toHex(r.keyId)])).toEqual([['code', 1, 1, toHex(code.keyId)], ['owners', 2, 3, toHex(owners.keyId)]]);
  });

  it('another recovery key is not-for-me', () => {
    fails(() => openBackup(blob(), newRecoveryKey().seed), 'not-for-me');
  });

  it('a changed byte anywhere is refused with a typed error: header, each recipient, nonce, ciphertext, tag', () => {
    const b = blob();
    const { HEADER_BYTES, RECIPIENT_BYTES, NONCE_BYTES } = BACKUP_LAYOUT;
    const offsets = [
      1, 10, 20, // hub id, madeAt
      HEADER_BYTES + 1, // the code recipient's key id: no longer this code's
      HEADER_BYTES + 20, HEADER_BYTES + RECIPIENT_BYTES - 1, // its X-Wing ciphertext, its wrapped key
      HEADER_BYTES + RECIPIENT_BYTES + 200, // the owners' recipient (bound into the payload's AD)
      HEADER_BYTES + 2 * RECIPIENT_BYTES + 3, // the nonce
      HEADER_BYTES + 2 * RECIPIENT_BYTES + NONCE_BYTES + 2, // the payload
      b.length - 1, // the tag
    ];
    for (const at of offsets) {
      const t = Uint8Array.from(b);
      t[at]! ^= 0x01;
      let err: unknown;
      try {
        openBackup(t, code.seed);
      } catch (e) {
        err = e;
      }
      expect(isCryptoError(err) && ['tampered', 'not-for-me'].includes(err.code), `offset ${at}: ${String(err)}`).toBe(true);
    }
    // The version byte is unsupported; a cut blob or bad counts are malformed.
    const v = Uint8Array.from(b);
    v[0] = 2;
    fails(() => openBackup(v, code.seed), 'unsupported');
    fails(() => openBackup(b.subarray(0, 30), code.seed), 'malformed');
    fails(() => openBackup(b.subarray(0, BACKUP_LAYOUT.HEADER_BYTES + 100), code.seed), 'malformed');
    const c = Uint8Array.from(b);
    c[BACKUP_LAYOUT.HEADER_BYTES - 1] = 9;
    fails(() => openBackup(c, code.seed), 'malformed');
  });
});

describe('the printed recovery code', () => {
  it('round-trips, forgives case, spaces and look-alike letters, and catches a typo by its check', () => {
    const text = encodeRecoveryCode(code.seed);
    expect(text).toMatch(/^VR1(-[0-9A-HJKMNP-TV-Z]{1,5}){11}$/);
    expect(toHex(decodeRecoveryCode(text).expose())).toBe(toHex(code.seed.expose()));
    const sloppy = text.toLowerCase().replace(/-/g, ' ').replace(/1/g, 'l').replace(/0/g, 'o');
    expect(toHex(decodeRecoveryCode(sloppy).expose())).toBe(toHex(code.seed.expose()));
    const i = 10;
    const typo = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
    fails(() => decodeRecoveryCode(typo), 'malformed');
    fails(() => decodeRecoveryCode(text.slice(0, -1)), 'malformed');
    fails(() => decodeRecoveryCode('hello'), 'malformed');
  });
});

describe('owner shares', () => {
  it('each share is sealed to one phone: it opens there and nowhere else', () => {
    const shares = sharesFor();
    const sealed = shares.map((s, i) => sealBackupShare(s, { deviceId: phones[i]!.deviceId, pqKey: phones[i]!.pq.publicKey }));
    const opened = openBackupShare(sealed[0]!, phones[0]!, hub.hubId);
    expect(opened.share.x).toBe(shares[0]!.share.x);
    fails(() => openBackupShare(sealed[0]!, phones[1]!, hub.hubId), 'not-for-me');
    const t = Uint8Array.from(sealed[0]!);
    t[t.length - 3]! ^= 1;
    fails(() => openBackupShare(t, phones[0]!, hub.hubId), 'tampered');
  });

  it('any 2 of 3 rebuild the owners\' key and open the backup; 1 is refused; a changed share is tampered', () => {
    const shares = sharesFor();
    for (const pair of [[0, 1], [1, 2], [0, 2]]) {
      const seed = combineBackupShares(pair.map((i) => shares[i]!), hub.hubId);
      expect(toHex(recoveryKeyId(sodium().crypto_kem_xwing_seed_keypair(seed.expose()).publicKey))).toBe(toHex(owners.keyId));
      expect(toHex(openBackup(blob(), seed).payload)).toBe(toHex(payload));
    }
    fails(() => combineBackupShares([shares[0]!], hub.hubId), 'forbidden');
    fails(() => combineBackupShares([shares[0]!, shares[0]!], hub.hubId), 'malformed');
    const changed = { ...shares[1]!, share: { x: shares[1]!.share.x, y: Uint8Array.from(shares[1]!.share.y, (b, i) => (i === 0 ? b ^ 1 : b)) } };
    fails(() => combineBackupShares([shares[0]!, changed], hub.hubId), 'tampered');
    fails(() => combineBackupShares([shares[0]!, shares[1]!], newHubIdentity().hubId), 'not-for-me');
  });
});

