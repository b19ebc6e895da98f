// `vigil-phone backup`: an owner phone fetches and keeps its hub's sealed backup and its share of the
// owners' key (phone/core/backup.ts), next to its profile in PROFILE.backup (0600). `--out FILE`
// also writes the sealed blob alone, for `vigil restore --from FILE` on a new machine: it opens
// only with the printed recovery code or k owners' shares (PROTOCOL §18).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { toBase64url } from '../crypto/bytes.ts';
import { backupVersion, fetchBackup, type BackupLink, type HeldBackup } from './core/backup.ts';
import { approveRestore, RestoreApprovalError, type KeptBackup } from './core/backup-restore.ts';
import type { RelayFactory } from './core/pair.ts';
import type { PhoneProfile } from './core/profile.ts';

function keep(b: HeldBackup, profilePath: string): void {
  const held: KeptBackup = { hub: b.hub, id: b.id, madeAt: b.madeAt, blob: toBase64url(b.blob), ...(b.share ? { share: toBase64url(b.share) } : {}), version: b.version };
  // Written beside and renamed over: a crash mid-write never leaves a phone without its backup.
  writeFileSync(`${profilePath}.backup.new`, JSON.stringify(held), { mode: 0o600 });
  renameSync(`${profilePath}.backup.new`, `${profilePath}.backup`);
}

export async function saveBackup(link: BackupLink & { ready(): Promise<void> }, profile: PhoneProfile, profilePath: string, opts: { out?: string; json: boolean }): Promise<number> {
  await link.ready();
  const b = await fetchBackup(link, profile);
  keep(b, profilePath);
  if (opts.out !== undefined) writeFileSync(opts.out, b.blob, { mode: 0o600 });
  const summary = { id: b.id, madeAt: new Date(b.madeAt).toISOString(), bytes: b.blob.length, share: b.share !== undefined, ...(b.owners ? { owners: b.owners } : {}), code: b.code };
  if (opts.json) console.log(JSON.stringify(summary));
  else {
    const ways = [b.code ? 'the printed recovery code' : '', b.owners ? `${b.owners.k} of ${b.owners.n} owner phones` : ''].filter(Boolean).join(' or ');
    console.log(`backup ${b.id.slice(0, 8)} of ${summary.madeAt} kept in ${profilePath}.backup (${b.blob.length} bytes); it opens with ${ways}${b.share ? '; this phone holds a share' : ''}`);
  }
  return 0;
}

/** `vigil-phone approve-restore`: this phone's share and kept backup, to the machine showing the invite. */
export async function approveRestoreFromCli(profile: PhoneProfile, profilePath: string, link: string, relayFactory: RelayFactory, opts: { relayUrls?: readonly string[]; json: boolean }): Promise<number> {
  let kept: KeptBackup;
  try {
    kept = JSON.parse(readFileSync(`${profilePath}.backup`, 'utf8')) as KeptBackup;
  } catch {
    throw new RestoreApprovalError(`this phone keeps no backup (${profilePath}.backup): it is fetched with vigil-phone backup while the hub runs`);
  }
  const a = await approveRestore({ link, profile, kept, relayFactory, ...(opts.relayUrls ? { relayUrls: opts.relayUrls } : {}) });
  if (opts.json) console.log(JSON.stringify(a));
  else if (a.state === 'restored') console.log(`restored: the new machine now holds hub ${a.hubId?.slice(0, 16)} (${a.have} of ${a.need} owner phones approved)`);
  else if (a.state === 'accepted') console.log(`approved: ${a.have} of the ${a.need} owner phones needed so far; the new machine waits for the others`);
  if (a.state === 'refused') throw new RestoreApprovalError(`the new machine refused this approval: ${a.reason ?? 'no reason given'}`);
  return 0;
}

/**
 * An owner phone that keeps a backup (it ran vigil-phone backup once) keeps it fresh: at each
 * connection it asks the hub for the backup's version and fetches the backup again when it moved
 * (a phone paired or removed, a camera added, settings changed; PROTOCOL §18.3). Never fails the
 * command it follows: a problem is one line on stderr.
 */
export async function refreshKeptBackup(link: BackupLink, profile: PhoneProfile, profilePath: string): Promise<void> {
  if (profile.certificate.role !== 'owner' || !existsSync(`${profilePath}.backup`)) return;
  try {
    const kept = JSON.parse(readFileSync(`${profilePath}.backup`, 'utf8')) as KeptBackup;
    if (await backupVersion(link) === kept.version) return;
    const b = await fetchBackup(link, profile);
    keep(b, profilePath);
    console.error(`backup: kept the hub's new backup ${b.id.slice(0, 8)} (what a restore brings back changed)`);
  } catch (e) {
    console.error(`backup: could not refresh the kept backup: ${e instanceof Error ? e.message : String(e)}`);
  }
}
