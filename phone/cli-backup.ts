// `vigil-phone backup`: an owner phone fetches and keeps its hub's sealed backup and its share of the
// owners' key (phone/core/backup.ts), next to its profile in PROFILE.backup (0600). `--out FILE`
// also writes the sealed blob alone, for `vigil restore --from FILE` on a new machine: it opens
// only with the printed recovery code or k owners' shares (PROTOCOL §18).
import { writeFileSync } from 'node:fs';
import { toBase64url } from '../crypto/bytes.ts';
import type { CliCommand } from '../relay/cli-options.ts';
import { fetchBackup, type BackupLink } from './core/backup.ts';
import type { PhoneProfile } from './core/profile.ts';

export const BACKUP: CliCommand = {
  name: 'vigil-phone backup',
  summary: 'Owners: fetches and keeps the hub\'s sealed backup (PROFILE.backup).',
  options: {
    profile: { type: 'string', value: 'FILE', required: true, help: 'the phone\'s profile (made by vigil-phone pair)' },
    out: { type: 'string', value: 'FILE', help: 'also write the sealed backup to FILE, for vigil restore --from FILE' },
    json: { type: 'boolean', help: 'one JSON object: id, madeAt, bytes, share, owners {k, n}, code' },
    relay: { type: 'string', value: 'URL', multiple: true, help: 'reach the hub through this relay instead of the profile\'s' },
  },
};

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
