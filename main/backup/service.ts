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
import { exportPayload, materialVersion } from './payload.ts';
import { ensureOwnersKey, readRecovery, recipientsOf } from './recovery.ts';

/** Bytes of backup one `backup` answer carries: 48 KiB of base64url, under a session message's 60 kB of JSON. */
export const BACKUP_PAGE_BYTES = 36 * 1024;

export class HubBackup {
  #cached: { version: string; blob: Uint8Array } | undefined;

  constructor(private readonly store: Store, private readonly hub: HubIdentity, private readonly now: () => number = Date.now) {}

  /**
   * The current backup and its version, or undefined when no recovery key exists yet (no code
   * printed, fewer than 2 owners). The same version gives the same blob: a phone's page requests
   * (each a command, which moves the phone's last command number) fetch one blob.
   */
  current(): { blob: Uint8Array; version: string } | undefined {
    ensureOwnersKey(this.store, this.hub, this.now());
    const recipients = recipientsOf(readRecovery(this.store));
    if (recipients.length === 0) return undefined;
    const payload = exportPayload(this.store, this.hub);
    const version = materialVersion(payload);
    if (this.#cached?.version !== version) this.#cached = { version, blob: sealBackup(this.hub.hubId, this.now(), recipients, payload) };
    payload.fill(0);
    return this.#cached;
  }

  /** `backup {offset}` (owners): a page of the current backup, and with the first page this phone's sealed share. */
  readonly command: Handler<'backup'> = async ({ offset, peek }, { device }) => {
    const { blob, version } = this.current() ?? {};
    if (blob === undefined || version === undefined) throw new CommandRefused('no-backup', 'this hub has no recovery key yet: print a recovery code on the hub (vigil backup --print-code), or pair a second owner phone');
    if (offset > blob.length) throw new CommandRefused('bad-arguments', 'offset past the end of the backup');
    const share = offset === 0 && peek !== true ? readRecovery(this.store).owners?.shares[device.id] : undefined;
    return {
      id: toHex(labeledHash(LABEL_BACKUP, 16, blob)),
      total: blob.length,
      offset,
      data: peek === true ? '' : toBase64url(blob.subarray(offset, offset + BACKUP_PAGE_BYTES)),
      ...(share !== undefined ? { share } : {}),
      version,
    };
  };
}
