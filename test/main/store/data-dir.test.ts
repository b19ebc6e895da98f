// The data directory holds hub.db (camera names and URLs, the roster, the audit log, sealed
// secrets) and hub.key. Only hub.key's mode used to be checked: an existing directory other users
// could enter, or a hub.db (or its -wal/-shm) they could read, was used as is (issue 14, finding 11).
// Real directories and SQLite files; the advice in the error is run as given.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../main/store/db.ts';
import { isStoreError } from '../../../main/store/errors.ts';
import { open, tempDataDir } from './helpers.ts';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const modeOf = (p: string) => statSync(p).mode & 0o777;

/** The command the error tells the user to run. */
function advice(error: unknown): string {
  const m = /\(run: (.+)\)$/.exec(String((error as Error).message));
  if (m === null) throw new Error(`no advice in: ${String(error)}`);
  return m[1]!;
}

describe('the data directory and hub.db must be private', () => {
  it('a new data directory is 0700 and hub.db 0600, whatever the umask', () => {
    const dir = tempDataDir();
    const old = process.umask(0);
    try {
      open(dir);
    } finally {
      process.umask(old);
    }
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, 'hub.db'))).toBe(0o600);
    for (const f of ['hub.db-wal', 'hub.db-shm']) if (existsSync(join(dir, f))) expect(modeOf(join(dir, f)), f).toBe(0o600);
  });

  it('refuses an existing directory other users may enter, before creating anything in it', () => {
    const dir = tempDataDir();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const error = thrown(() => openStore(dir));
    expect(isStoreError(error, 'data-insecure')).toBe(true);
    expect(advice(error)).toBe(`chmod 700 ${dir}`);
    expect(existsSync(join(dir, 'hub.db'))).toBe(false);
    execFileSync('sh', ['-c', advice(error)]);
    open(dir);
  });

  it('refuses a hub.db, hub.db-wal or hub.db-shm that others can read, and names each in one chmod', () => {
    const dir = tempDataDir();
    const first = open(dir);
    first.addCamera({ name: 'Nursery', url: 'rtsp://10.0.0.1/' });
    // While `first` is open, SQLite keeps hub.db-wal and hub.db-shm next to hub.db.
    expect(existsSync(join(dir, 'hub.db-wal'))).toBe(true);
    for (const [file, mode] of [['hub.db', 0o644], ['hub.db-wal', 0o640], ['hub.db-shm', 0o604]] as const) {
      chmodSync(join(dir, file), mode);
      const error = thrown(() => openStore(dir));
      expect(isStoreError(error, 'data-insecure'), file).toBe(true);
      expect(String(error)).toContain(`${join(dir, file)} has mode 0${mode.toString(8)}`);
      expect(advice(error)).toBe(`chmod 600 ${join(dir, file)}`);
      chmodSync(join(dir, file), 0o600);
    }
    chmodSync(dir, 0o750);
    chmodSync(join(dir, 'hub.db'), 0o644);
    chmodSync(join(dir, 'hub.db-wal'), 0o666);
    const error = thrown(() => openStore(dir));
    expect(advice(error)).toBe(`chmod 700 ${dir} && chmod 600 ${join(dir, 'hub.db')} ${join(dir, 'hub.db-wal')}`);
    execFileSync('sh', ['-c', advice(error)]);
    expect(open(dir).listCameras().map((c) => c.name)).toEqual(['Nursery']);
  });

  it('quotes a path the shell would split', () => {
    const dir = join(tempDataDir(), "it's mine");
    mkdirSync(dir, { recursive: true, mode: 0o777 });
    chmodSync(dir, 0o777);
    const error = thrown(() => openStore(dir));
    execFileSync('sh', ['-c', advice(error)]);
    expect(modeOf(dir)).toBe(0o700);
    open(dir);
  });
});
