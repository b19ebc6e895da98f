// `vigil backup`, `vigil backup-status` and `vigil restore` (PROTOCOL §18). They read and write the
// store directly (SQLite allows it while the hub runs), like `vigil roster`.
import { readFileSync, statSync } from 'node:fs';
import { fromHex } from '../../crypto/bytes.ts';
import { reindexRecordings } from '../recording/reindex.ts';
import { RECORDINGS_DIR } from '../recording/segment-files.ts';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { decodeRecoveryCode } from '../../crypto/backup.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { parseCommand, usageOf, type CliCommand } from '../../relay/cli-options.ts';
import { BACKUP, BACKUP_STATUS, RESTORE } from './commands.ts';
import { newRecoveryCode, readRecovery, recoveryStatus } from '../backup/recovery.ts';
import WebSocket from 'ws';
import { formatRestoreLink, newRestoreInvite } from '../../crypto/backup-restore.ts';
import { newSigningKeyPair, sign } from '../../crypto/identity.ts';
import { RelayClient, type WebSocketConstructor } from '../../relay/client.ts';
import { RestoreDesk } from '../backup/restore-approvals.ts';
import { RestoreError, restoreHub, type RestoreOutcome } from '../backup/restore.ts';
import { openStore } from '../store/db.ts';
import { CliError } from './api-client.ts';

type Out = { log(line: string): void; error(line: string): void };

function need(values: Record<string, unknown>, name: string, command: CliCommand): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new CliError(`${command.name.slice(6)} needs --${name}\n${usageOf(command)}`);
  return v;
}

export async function cmdBackup(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(BACKUP, argv);
  const dir = need(values, 'data', BACKUP);
  if (values['print-code'] !== true) throw new CliError(`backup needs --print-code\n${usageOf(BACKUP)}`);
  await cryptoReady();
  const store = openStore(dir);
  try {
    if (store.getHubIdentity() === undefined) throw new CliError(`${dir} holds no hub yet (start it once with vigil hub --data ${dir})`);
    const code = newRecoveryCode(store);
    out.log(`recovery code: ${code}`);
    if (process.stdout.isTTY) out.log(await QRCode.toString(code, { type: 'terminal', small: true }));
    out.log('Write it down or print it now: it is shown once and the hub keeps no copy. An earlier code no longer opens new backups.');
  } finally {
    store.close();
  }
}

export async function cmdBackupStatus(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(BACKUP_STATUS, argv);
  const dir = need(values, 'data', BACKUP_STATUS);
  await cryptoReady();
  const store = openStore(dir);
  try {
    const s = recoveryStatus(readRecovery(store));
    if (values.json === true) {
      out.log(JSON.stringify(s));
      return;
    }
    out.log(s.code ? `recovery code: made ${new Date(s.codeMadeAt!).toISOString()}` : 'recovery code: none (vigil backup --print-code)');
    out.log(s.owners ? `owner phones: ${s.owners.k} of ${s.owners.n} (${s.owners.phones.map((p) => p.slice(0, 8)).join(', ')})` : 'owner phones: no split (it needs two owner phones; made when a phone fetches the backup)');
  } finally {
    store.close();
  }
}

export async function cmdRestore(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(RESTORE, argv);
  const dir = need(values, 'data', RESTORE);
  const recordings = values.recordings as string | undefined;
  if (recordings !== undefined && !isDirectory(recordings)) throw new CliError(`--recordings ${recordings} is not a folder`);
  if (values['from-phones'] === true) {
    if (values.code !== undefined) throw new CliError(`restore takes --code or --from-phones, not both\n${usageOf(RESTORE)}`);
    return await restoreFromPhones(values, dir, out, recordings);
  }
  if (values.relay !== undefined || values.wait !== undefined) throw new CliError(`--relay and --wait go with --from-phones\n${usageOf(RESTORE)}`);
  const from = need(values, 'from', RESTORE);
  const codeText = need(values, 'code', RESTORE);
  await cryptoReady();
  const blob = readBlob(from);
  try {
    const seed = decodeRecoveryCode(codeText);
    try {
      restored(out, dir, restoreHub(dir, blob, seed, 'the printed recovery code'), recordings);
    } finally {
      seed.wipe();
    }
  } catch (e) {
    // Never the code or a key: the error kinds of crypto/errors.ts say what went wrong.
    if (isCryptoError(e, 'not-for-me')) throw new CliError('that recovery code does not open this backup (another code, or a code made after this backup)');
    if (isCryptoError(e, 'tampered')) throw new CliError('the backup does not open: it was changed or damaged');
    if (isCryptoError(e, 'malformed') || isCryptoError(e, 'unsupported')) throw new CliError(`not a usable backup or code: ${e.message}`);
    throw e;
  }
}

function readBlob(from: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(from));
  } catch (e) {
    throw new CliError(`cannot read ${from}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function restored(out: Out, dir: string, r: RestoreOutcome, recordings: string | undefined): void {
  out.log(`restored hub ${r.hubId.slice(0, 16)} into ${dir}: ${r.phones} phone${r.phones === 1 ? '' : 's'} (${r.removedPhones} removed stay removed), ${r.cameras} camera${r.cameras === 1 ? '' : 's'}, ${r.recordingEpochs} recording epoch${r.recordingEpochs === 1 ? '' : 's'}; roster log entry ${r.entry}`);
  // The hub is restored whatever happens here: the recordings are what a restore can add after.
  const store = openStore(dir);
  try {
    const report = reindexRecordings(store, dir, fromHex(r.hubId), recordings);
    const skipped = Object.entries(report.skipped);
    const total = skipped.reduce((n, [, c]) => n + c, 0);
    const where = recordings ?? join(dir, RECORDINGS_DIR);
    if (report.indexed + total === 0) out.log(`recordings: none found in ${where} (to bring the old hub's back: --recordings FOLDER)`);
    else out.log(`recordings: ${report.indexed} segment${report.indexed === 1 ? '' : 's'} (${(report.bytes / 1e6).toFixed(1)} MB) indexed from ${where}`
      + (total === 0 ? '' : `; ${total} file${total === 1 ? '' : 's'} skipped: ${skipped.map(([why, c]) => `${c} ${why}`).join(', ')}`));
  } catch (e) {
    throw new CliError(`the hub is restored, but its recordings were not indexed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    store.close();
  }
  out.log(`start it with: vigil hub --data ${dir} --relay URL (the relay it used before)`);
}

const DEFAULT_WAIT_SECONDS = 600;

/**
 * `vigil restore --from-phones` (PROTOCOL §18.5): a restore invite on a relay mailbox, approvals
 * from owner phones until k of them rebuild the owners' key, or the deadline.
 */
async function restoreFromPhones(values: Record<string, unknown>, dir: string, out: Out, recordings: string | undefined): Promise<void> {
  const relays = (values.relay as string[] | undefined) ?? [];
  if (relays.length === 0) throw new CliError(`--from-phones needs --relay URL (the relay the hub used)\n${usageOf(RESTORE)}`);
  const waitText = (values.wait as string | undefined) ?? String(DEFAULT_WAIT_SECONDS);
  const wait = Number(waitText);
  if (!(Number.isInteger(wait) && wait >= 1 && wait <= 3600)) throw new CliError('--wait must be a whole number of seconds, 1 to 3600');
  await cryptoReady();
  const blob = typeof values.from === 'string' ? readBlob(values.from) : undefined;
  const store = openStore(dir);
  try {
    if (store.getHubIdentity() !== undefined) throw new CliError(`${dir} holds a hub already; restore into a new, empty data directory`);
  } finally {
    store.close();
  }
  const { invite, key } = (() => {
    try {
      return newRestoreInvite({ relays, now: Date.now() / 1000, ttlSeconds: wait });
    } catch (e) {
      throw new CliError(`--relay: ${e instanceof Error ? e.message : String(e)}`);
    }
  })();
  let desk: RestoreDesk | undefined;
  const relayKey = newSigningKeyPair('restore relay key');
  const client = new RelayClient({
    urls: relays, publicKey: relayKey.publicKey, sign: (m) => sign(relayKey, m), WebSocket: WebSocket as unknown as WebSocketConstructor,
    onMailboxMessage: (id, from, payload) => desk?.onMailboxMessage(id, from, payload),
    onFailure: (f) => out.error(`cannot connect to ${f.url}: ${f.message} [${f.code}]; retrying`),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    try {
      desk = new RestoreDesk({
        dataDir: dir, invite, key, ...(blob !== undefined ? { blob } : {}),
        send: (to, payload) => client.send(to, payload),
        log: (line) => out.log(line),
      });
    } catch (e) {
      if (e instanceof RestoreError || isCryptoError(e)) throw new CliError(`not a backup owner phones can restore: ${e.message}`);
      throw e;
    }
    await client.waitReady(15_000).catch(() => {
      throw new CliError(`cannot reach the relay ${relays.join(', ')}`);
    });
    await client.openMailbox(invite.mailboxId, invite.expiresAt);
    const link = formatRestoreLink(invite);
    out.log(`restore invite: ${link}`);
    if (process.stdout.isTTY) out.log(await QRCode.toString(link, { type: 'terminal', small: true }));
    out.log(`On each approving owner phone: vigil-phone approve-restore --profile F --invite LINK (or scan it in the app). Waiting up to ${wait} s.`);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const { have, need: k } = desk!.progress;
        reject(new CliError(`restore not approved in ${wait} s: ${have} of the ${k ?? 'k'} owner phones needed approved it; nothing was restored`));
      }, wait * 1000);
    });
    const outcome = await Promise.race([desk.restored, deadline]);
    try {
      restored(out, dir, outcome, recordings);
    } finally {
      await desk.told();
    }
  } finally {
    clearTimeout(timer);
    await client.close();
    invite.secret.wipe();
    key.privateKey.wipe();
  }
}
