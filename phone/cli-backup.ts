// `vigil-phone backup`: an owner phone fetches and keeps its hub's sealed backup and its share of the
// owners' key (phone/core/backup.ts), next to its profile in PROFILE.backup (0600). `--out FILE`
// also writes the sealed blob alone, for `vigil restore --from FILE` on a new machine: it opens
// only with the printed recovery code or k owners' shares (PROTOCOL §18).
import { readFileSync, writeFileSync } from 'node:fs';
import { toBase64url } from '../crypto/bytes.ts';
import { fetchBackup, type BackupLink } from './core/backup.ts';
import { approveRestore, RestoreApprovalError, type KeptBackup } from './core/backup-restore.ts';
import type { RelayFactory } from './core/pair.ts';
import type { PhoneProfile } from './core/profile.ts';

export async function saveBackup(link: BackupLink & { ready(): Promise<void> }, profile: PhoneProfile, profilePath: string, opts: { out?: string; json: boolean }): Promise<number> {
  await link.ready();
  const b = await fetchBackup(link, profile);
  const held = { hub: b.hub, id: b.id, madeAt: b.madeAt, blob: toBase64url(b.blob), ...(b.share ? { share: toBase64url(b.share) } : {}) };
  writeFileSync(`${profilePath}.backup`, JSON.stringify(held), { mode: 0o600 });
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
