// The hub's side of backups (PROTOCOL §18.3): a backup made when an owner phone asks for it, from the
// store as it is then, sealed to the recovery keys of main/backup/recovery.ts. The same rows give
// the same backup (kept in memory by the payload's hash), so a phone fetching it a page at a time
// gets one consistent blob; any change to the rows gives a new one.
import { toBase64url, toHex } from '../../crypto/bytes.ts';
import { sealBackup } from '../../crypto/backup.ts';
import { labeledHash } from '../../crypto/hash.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { LABEL_BACKUP } from '../../crypto/labels.ts';
import { CommandRefused } from '../../crypto/phone-commands.ts';
import type { Handler } from '../phones/commands/handlers.ts';
import type { Store } from '../store/db.ts';
import { exportPayload } from './payload.ts';
import { ensureOwnersKey, readRecovery, recipientsOf } from './recovery.ts';

/** Bytes of backup one `backup` answer carries: 48 KiB of base64url, under a session message's 60 kB of JSON. */
export const BACKUP_PAGE_BYTES = 36 * 1024;

export class HubBackup {
  #cached: { payloadHash: string; blob: Uint8Array } | undefined;

  constructor(private readonly store: Store, private readonly hub: HubIdentity, private readonly now: () => number = Date.now) {}

  /** The current backup, or undefined when no recovery key exists yet (no code printed, fewer than 2 owners). */
  current(): Uint8Array | undefined {
    ensureOwnersKey(this.store, this.hub, this.now());
    const recipients = recipientsOf(readRecovery(this.store));
    if (recipients.length === 0) return undefined;
    const payload = exportPayload(this.store, this.hub);
    const payloadHash = toHex(labeledHash(LABEL_BACKUP, 32, payload));
    if (this.#cached?.payloadHash !== payloadHash) this.#cached = { payloadHash, blob: sealBackup(this.hub.hubId, this.now(), recipients, payload) };
    payload.fill(0);
    return this.#cached.blob;
  }

  /** `backup {offset}` (owners): a page of the current backup, and with the first page this phone's sealed share. */
  readonly command: Handler<'backup'> = async ({ offset }, { device }) => {
    const blob = this.current();
    if (blob === undefined) throw new CommandRefused('no-backup', 'this hub has no recovery key yet: print a recovery code on the hub (vigil backup --print-code), or pair a second owner phone');
    if (offset > blob.length) throw new CommandRefused('bad-arguments', 'offset past the end of the backup');
    const share = offset === 0 ? readRecovery(this.store).owners?.shares[device.id] : undefined;
    return {
      id: toHex(labeledHash(LABEL_BACKUP, 16, blob)),
      total: blob.length,
      offset,
      data: toBase64url(blob.subarray(offset, offset + BACKUP_PAGE_BYTES)),
      ...(share !== undefined ? { share } : {}),
    };
  };
}
