// An owner phone keeps its hub's backup (PROTOCOL §18.3): the sealed blob, which it cannot open, and
// its own share of the owners' key, sealed to it. It fetches them a page at a time, checks the blob
// is its hub's and that the share opens with its own key, and keeps both until the next fetch.
import { fromBase64url, toHex, equalBytes } from '../../crypto/bytes.ts';
import { backupAddress, MAX_BACKUP_PAYLOAD_BYTES, openBackupShare } from '../../crypto/backup.ts';
import type { ArgsOf, ResultOf } from '../../crypto/phone-commands.ts';
import type { PhoneProfile } from './profile.ts';

export interface BackupLink {
  command(action: 'backup', args: ArgsOf<'backup'>): Promise<ResultOf<'backup'>>;
}

export interface HeldBackup {
  /** The hub's id (hex). */
  readonly hub: string;
  /** The backup's id as the hub named it (a hash of the blob). */
  readonly id: string;
  readonly madeAt: number;
  readonly blob: Uint8Array;
  /** This phone's share of the owners' key, sealed to it; absent when the hub has none for it. */
  readonly share?: Uint8Array;
  /** The owners' key: shares needed and made. */
  readonly owners?: { readonly k: number; readonly n: number };
  readonly code: boolean;
  /** What a restore would bring back, hashed by the hub: a new backup is fetched when it moves. */
  readonly version: string;
}

export class BackupFetchError extends Error {
  override readonly name = 'BackupFetchError';
}

/** A blob is at most the payload's bound plus a few kB of header: this many pages at the most. */
const MAX_PAGES = Math.ceil((MAX_BACKUP_PAYLOAD_BYTES + 64 * 1024) / (36 * 1024)) + 1;

export async function fetchBackup(link: BackupLink, profile: Pick<PhoneProfile, 'hub' | 'device'>): Promise<HeldBackup> {
  const first = await link.command('backup', { offset: 0 });
  if (!Number.isSafeInteger(first.total) || first.total <= 0 || first.total > MAX_PAGES * 36 * 1024) throw new BackupFetchError('the hub named a backup of an impossible size');
  const blob = new Uint8Array(first.total);
  let page = first;
  let offset = 0;
  for (let i = 0; ; i++) {
    if (i >= MAX_PAGES) throw new BackupFetchError('the backup did not end');
    if (page.id !== first.id || page.total !== first.total || page.offset !== offset || page.version !== first.version) throw new BackupFetchError('the backup changed while it was fetched; fetch it again');
    const data = fromBase64url(page.data);
    if (data.length === 0 || offset + data.length > blob.length) throw new BackupFetchError('the hub sent pages that do not add up');
    blob.set(data, offset);
    offset += data.length;
    if (offset === blob.length) break;
    page = await link.command('backup', { offset });
  }
  const address = backupAddress(blob);
  if (!equalBytes(address.hubId, profile.hub.hubId)) throw new BackupFetchError('the backup is another hub\'s');
  const share = first.share === undefined ? undefined : fromBase64url(first.share);
  // A share this phone cannot open is worth nothing at restore time: say so now.
  if (share !== undefined) openBackupShare(share, profile.device, profile.hub.hubId).share.y.fill(0);
  const owners = address.recipients.find((r) => r.kind === 'owners');
  return {
    hub: toHex(profile.hub.hubId), id: first.id, madeAt: address.madeAt, blob,
    ...(share !== undefined ? { share } : {}),
    ...(owners ? { owners: { k: owners.k, n: owners.n } } : {}),
    code: address.recipients.some((r) => r.kind === 'code'),
    version: first.version,
  };
}

/** The hub's current backup version, without its bytes (PROTOCOL §18.3): to see whether a kept one is stale. */
export async function backupVersion(link: BackupLink): Promise<string> {
  const page = await link.command('backup', { offset: 0, peek: true });
  if (typeof page.version !== 'string' || page.version.length === 0 || page.version.length > 64) throw new BackupFetchError('the hub named no backup version');
  return page.version;
}
