// Recording epochs (PROTOCOL §15.1): a new X-Wing key pair at every hub start, every 24 h (with the
// live epochs' daily rotation) and at every roster change. The hub signs its public key, seals the
// private seed to each phone on the roster (sealEpochKey, with the phone certificate's X-Wing key),
// stores the sealed copies, and wipes the seed: from then on the hub can wrap segment keys to the
// epoch and never unwrap one. A phone added later has no copy of earlier epochs (T3), a removed
// phone none of later ones.
import { decodeCertificate } from '../../crypto/certificate.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { encodeRecordingEpoch, newRecordingEpoch, sealEpochKey, type RecordingEpoch } from '../../crypto/recording.ts';
import type { Device, EpochReason } from '../store/db.ts';
import type { RecordingIndex } from '../store/recordings.ts';

export type RecordingEpochReason = 'start' | 'daily' | 'device-added' | 'device-removed';

/** The live epochs that start a recording epoch too: a camera added or removed changes no roster. */
export function recordingEpochReason(reason: EpochReason): RecordingEpochReason | undefined {
  return reason === 'start' || reason === 'daily' || reason === 'device-added' || reason === 'device-removed' ? reason : undefined;
}

export interface RecordingEpochsParts {
  identity: HubIdentity;
  index: Pick<RecordingIndex, 'nextEpochNumber' | 'saveEpoch'>;
  /** The phones on the roster now (not revoked). */
  devices(): readonly Device[];
  now?: () => number;
  log?(line: string): void;
}

export class RecordingEpochs {
  #current: RecordingEpoch | undefined;
  readonly #listeners = new Set<(epoch: RecordingEpoch | undefined) => void>();

  constructor(private readonly p: RecordingEpochsParts) {}

  /** The epoch segments are wrapped to now; undefined before the first rotate(). */
  get current(): RecordingEpoch | undefined {
    return this.#current;
  }

  /** Called as each new epoch begins (the recorder closes its open segments). Returns the unsubscribe. */
  onChange(listener: (epoch: RecordingEpoch | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Makes, seals, stores and switches to a new epoch; its seed is wiped before this returns. If that
   * fails, nothing is recorded until the next epoch: never on to the old one, which a removed phone
   * may hold.
   */
  rotate(reason: RecordingEpochReason): RecordingEpoch {
    const { identity, index } = this.p;
    this.#current = undefined;
    for (const l of this.#listeners) l(undefined);
    const number = index.nextEpochNumber();
    const createdAt = (this.p.now ?? Date.now)();
    const { epoch, seed } = newRecordingEpoch(identity, number, createdAt);
    try {
      const sealed = this.p.devices().filter((d) => d.revokedAt === null).map((d) => {
        const cert = decodeCertificate(d.certificate, identity.signing.publicKey);
        return { deviceId: d.id, sealed: sealEpochKey(identity.hubId, number, seed, { deviceId: cert.deviceId, pqKey: cert.pqKey }) };
      });
      index.saveEpoch({ number, createdAtMs: createdAt, epoch: encodeRecordingEpoch(epoch) }, sealed);
      this.p.log?.(`recording epoch ${number} (${reason}): sealed to ${sealed.length} phone${sealed.length === 1 ? '' : 's'}`);
    } finally {
      seed.wipe();
    }
    this.#current = epoch;
    return epoch;
  }
}
