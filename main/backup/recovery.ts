// The recovery keys a hub seals its backups to (PROTOCOL §18.2), kept in meta.backup_recovery as
// JSON with public halves only: the printed code's public key, and the owners' key with each owner
// phone's sealed share (opaque to the hub, which forgot the seed when it split it). The owners' key
// is split again whenever the set of owner phones changes, so a removed owner's share opens no later
// backup.
import { fromBase64url, fromHex, toBase64url } from '../../crypto/bytes.ts';
import { decodeCertificate } from '../../crypto/certificate.ts';
import {
  encodeRecoveryCode, newRecoveryKey, sealBackupShare, type RecoveryRecipient,
} from '../../crypto/backup.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { splitSecret } from '../../crypto/shamir.ts';
import type { Store } from '../store/db.ts';

/** Shares needed to rebuild the owners' key: 2 (of 2 or more owner phones); 1 owner has the code only. */
export const DEFAULT_THRESHOLD = 2;

export interface OwnersKey {
  readonly publicKey: string;
  readonly k: number;
  readonly n: number;
  /** Each owner phone's share, sealed to it (crypto/backup.ts sealBackupShare), by device id. */
  readonly shares: Record<string, string>;
  readonly madeAt: number;
}

export interface Recovery {
  readonly code?: { readonly publicKey: string; readonly madeAt: number };
  readonly owners?: OwnersKey;
}

export function readRecovery(store: Store): Recovery {
  const row = store.statement<{ value: Buffer }>("SELECT value FROM meta WHERE name = 'backup_recovery'").get();
  return row === undefined ? {} : JSON.parse(row.value.toString('utf8')) as Recovery;
}

function writeRecovery(store: Store, r: Recovery): void {
  store.statement("INSERT INTO meta (name, value) VALUES ('backup_recovery', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
    .run(Buffer.from(JSON.stringify(r), 'utf8'));
}

/** The recipients a new backup is sealed to. */
export function recipientsOf(r: Recovery): RecoveryRecipient[] {
  const out: RecoveryRecipient[] = [];
  if (r.code) out.push({ kind: 'code', publicKey: fromBase64url(r.code.publicKey), k: 1, n: 1 });
  if (r.owners) out.push({ kind: 'owners', publicKey: fromBase64url(r.owners.publicKey), k: r.owners.k, n: r.owners.n });
  return out;
}

/**
 * A new recovery code: its public key replaces the old one (backups made from now on open with the
 * new code only). Returns the code's text, which the caller prints once; the hub keeps no copy.
 */
export function newRecoveryCode(store: Store, now = Date.now()): string {
  const key = newRecoveryKey();
  try {
    store.transaction(() => writeRecovery(store, { ...readRecovery(store), code: { publicKey: toBase64url(key.publicKey), madeAt: now } }));
    return encodeRecoveryCode(key.seed);
  } finally {
    key.seed.wipe();
  }
}

/**
 * Splits a new owners' key among the owner phones on the roster if they are not the ones the current
 * split was made for (2 or more owners; with one, the printed code is the way back). True if it did.
 */
export function ensureOwnersKey(store: Store, hub: HubIdentity, now = Date.now()): boolean {
  return store.transaction(() => {
    const r = readRecovery(store);
    const owners = store.listDevices().filter((d) => d.role === 'owner');
    const want = owners.map((d) => d.id).sort().join(',');
    const have = r.owners ? Object.keys(r.owners.shares).sort().join(',') : '';
    if (want === have || (owners.length < 2 && r.owners === undefined)) return false;
    if (owners.length < 2) {
      writeRecovery(store, { ...(r.code ? { code: r.code } : {}) });
      return true;
    }
    const key = newRecoveryKey();
    const n = owners.length;
    const k = Math.min(DEFAULT_THRESHOLD, n);
    const split = splitSecret(key.seed.expose(), n, k);
    key.seed.wipe();
    const shares: Record<string, string> = {};
    owners.forEach((d, i) => {
      const cert = decodeCertificate(d.certificate, hub.signing.publicKey);
      shares[d.id] = toBase64url(sealBackupShare({ hubId: hub.hubId, keyId: key.keyId, k, n, share: split[i]! }, { deviceId: fromHex(d.id), pqKey: cert.pqKey }));
      split[i]!.y.fill(0);
    });
    writeRecovery(store, { ...(r.code ? { code: r.code } : {}), owners: { publicKey: toBase64url(key.publicKey), k, n, shares, madeAt: now } });
    return true;
  });
}

/** For `vigil backup-status`: which recovery keys exist, never a secret. */
export function recoveryStatus(r: Recovery): { code: boolean; codeMadeAt?: number; owners?: { k: number; n: number; phones: string[]; madeAt: number } } {
  return {
    code: r.code !== undefined,
    ...(r.code ? { codeMadeAt: r.code.madeAt } : {}),
    ...(r.owners ? { owners: { k: r.owners.k, n: r.owners.n, phones: Object.keys(r.owners.shares), madeAt: r.owners.madeAt } } : {}),
  };
}


