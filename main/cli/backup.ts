// `vigil backup`, `vigil backup-status` and `vigil restore` (PROTOCOL §18). They read and write the
// store directly (SQLite allows it while the hub runs), like `vigil roster`.
import { readFileSync } from 'node:fs';
import QRCode from 'qrcode';
import { decodeRecoveryCode } from '../../crypto/backup.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { parseCommand, usageOf, type CliCommand } from '../../relay/cli-options.ts';
import { newRecoveryCode, readRecovery, recoveryStatus } from '../backup/recovery.ts';
import { restoreHub } from '../backup/restore.ts';
import { openStore } from '../store/db.ts';
import { CliError } from './api-client.ts';

type Out = { log(line: string): void; error(line: string): void };

const data = { type: 'string', value: 'DIR', required: true, help: 'the hub\'s data directory' } as const;

export const BACKUP: CliCommand = {
  name: 'vigil backup',
  summary: 'Prints a new recovery code (once) that opens the hub\'s backups kept by owner phones.',
  options: {
    data,
    'print-code': { type: 'boolean', help: 'make a new recovery code and print it, with its QR code, once; backups\nmade from now on open with it (and no longer with an earlier code)' },
  },
  notes: 'Owner phones keep the sealed backup (vigil-phone backup). Keep the code on paper, away from the\nhub: with the backup it brings the hub back on a new machine (vigil restore).',
};

export const BACKUP_STATUS: CliCommand = {
  name: 'vigil backup-status',
  summary: 'Says which recovery keys the hub\'s backups are sealed to (never a key).',
  options: { data, json: { type: 'boolean', help: 'one JSON object' } },
};

export const RESTORE: CliCommand = {
  name: 'vigil restore',
  summary: 'Brings the hub back into a new data directory from its sealed backup and the recovery code.',
  options: {
    data: { ...data, help: 'a new, empty data directory for the restored hub' },
    from: { type: 'string', value: 'FILE', required: true, help: 'the sealed backup (vigil-phone backup --out FILE on an owner phone)' },
    code: { type: 'string', value: 'CODE', required: true, help: 'the recovery code vigil backup --print-code printed (VR1-...)' },
  },
  notes: 'Then start the hub on DIR with the same --relay: paired phones reconnect without pairing again\nand each shows the restore as a roster alert.',
};

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
  const from = need(values, 'from', RESTORE);
  const codeText = need(values, 'code', RESTORE);
  await cryptoReady();
  let blob: Uint8Array;
  try {
    blob = new Uint8Array(readFileSync(from));
  } catch (e) {
    throw new CliError(`cannot read ${from}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const seed = decodeRecoveryCode(codeText);
    try {
      const r = restoreHub(dir, blob, seed, 'the printed recovery code');
      out.log(`restored hub ${r.hubId.slice(0, 16)} into ${dir}: ${r.phones} phone${r.phones === 1 ? '' : 's'} (${r.removedPhones} removed stay removed), ${r.cameras} camera${r.cameras === 1 ? '' : 's'}; roster log entry ${r.entry}`);
      out.log(`start it with: vigil hub --data ${dir} --relay URL (the relay it used before)`);
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
