// `vigil restore` (PROTOCOL §18.4): the same hub back on a new machine from its sealed backup and a
// recovery seed (the printed code, or k owners' shares put together). Into a fresh data directory
// only, in one transaction; then a signed 'restored' entry on the roster log, which every phone
// shows as an alert at its next connection.
import { equalBytes, toHex } from '../../crypto/bytes.ts';
import { openBackup } from '../../crypto/backup.ts';
import { CryptoError } from '../../crypto/errors.ts';
import { labeledHash } from '../../crypto/hash.ts';
import { hubPublicKeys, importHubIdentity, type HubPublicKeys } from '../../crypto/identity.ts';
import { LABEL_BACKUP } from '../../crypto/labels.ts';
import { EMPTY_ROSTER, GENESIS, NO_DEVICE, entryHash, extendRoster, signRosterEntry } from '../../crypto/roster-log.ts';
import { fromBase64url } from '../../crypto/bytes.ts';
import type { Secret } from '../../crypto/secret.ts';
import { decodeRecordingEpoch, sealedEpochKeyAddress } from '../../crypto/recording.ts';
import { openStore } from '../store/db.ts';
import { readPayload, writePayload, type BackupPayload } from './payload.ts';

export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

/**
 * Each recording epoch MUST be signed by this hub under its own number, and each sealed seed MUST be
 * the right size and addressed to this hub, a device of the backup and that epoch: the phones check
 * the same (PROTOCOL §15.1), but a restore writes nothing it would hand out wrong.
 */
function checkRecordingEpochs(payload: BackupPayload, hub: HubPublicKeys): void {
  const where = 'restoreHub';
  const devices = new Set(payload.devices.map((d) => d.id));
  for (const e of payload.recordingEpochs) {
    if (decodeRecordingEpoch(fromBase64url(e.epoch), hub).epoch !== e.number) throw new CryptoError('tampered', where, `recording epoch ${e.number} is signed as another`);
    for (const k of e.keys) {
      const to = sealedEpochKeyAddress(fromBase64url(k.sealed));
      if (!equalBytes(to.hubId, hub.hubId) || toHex(to.recipient) !== k.deviceId || !devices.has(k.deviceId) || to.epoch !== e.number) {
        throw new CryptoError('tampered', where, `a key of recording epoch ${e.number} is not addressed to the phone and epoch it is listed under`);
      }
    }
  }
}

export interface RestoreOutcome {
  readonly hubId: string;
  readonly phones: number;
  readonly removedPhones: number;
  readonly cameras: number;
  /** Recording epochs brought back (each phone's sealed seeds with them). */
  readonly recordingEpochs: number;
  /** The roster log entry that says the hub was restored. */
  readonly entry: number;
}

/**
 * `by` names who allowed it, for the roster entry: the printed code, or (a function of the opened
 * payload, which may refuse with a RestoreError before anything is written) the approving phones.
 */
export function restoreHub(dataDir: string, blob: Uint8Array, seed: Secret, by: string | ((payload: BackupPayload) => string), now = Date.now()): RestoreOutcome {
  const opened = openBackup(blob, seed);
  const payload = readPayload(opened.payload);
  opened.payload.fill(0);
  const identityBytes = fromBase64url(payload.identity);
  const hub = importHubIdentity(identityBytes);
  if (!equalBytes(hub.hubId, opened.hubId)) throw new CryptoError('tampered', 'restoreHub', 'the identity inside is not the hub the backup names');
  // The log must be one this hub signed, chained from the start: the phones will check it too.
  extendRoster(EMPTY_ROSTER, payload.rosterLog.map(fromBase64url), hubPublicKeys(hub));
  checkRecordingEpochs(payload, hubPublicKeys(hub));
  const byText = typeof by === 'string' ? by : by(payload);
  const store = openStore(dataDir);
  try {
    if (store.getHubIdentity() !== undefined) throw new RestoreError(`${dataDir} holds a hub already; restore into a new, empty data directory`);
    let entry = -1;
    store.transaction(() => {
      writePayload(store, payload, identityBytes);
      entry = store.appendRosterEntry((last) => signRosterEntry(hub, {
        seq: last === undefined ? 0 : last.seq + 1,
        prev: last === undefined ? GENESIS : entryHash(last.entry),
        at: now,
        change: 'restored',
        deviceId: NO_DEVICE,
        // Which backup: its hash, so owners can tell one restore from another.
        fingerprint: labeledHash(LABEL_BACKUP, 32, blob),
        name: '',
        role: 'owner',
        by: byText,
      }));
      store.audit('owner', 'hub-created', { restored: true, entry });
    });
    identityBytes.fill(0);
    return {
      hubId: toHex(hub.hubId),
      phones: payload.devices.filter((d) => d.revoked_at === null).length,
      removedPhones: payload.devices.filter((d) => d.revoked_at !== null).length,
      cameras: payload.cameras.length,
      recordingEpochs: payload.recordingEpochs.length,
      entry,
    };
  } finally {
    store.close();
  }
}
