// Temporary data directories for store tests: real SQLite files under os.tmpdir(), removed after
// each test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import { openStore, type Store, type StoreOptions } from '../../../main/store/db.ts';

const made: string[] = [];
const opened: Store[] = [];

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh, not yet existing data directory inside a temp dir cleaned up after the test. */
export function tempDataDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  made.push(root);
  return join(root, 'data');
}

/** openStore, closed after the test. */
export function open(dir: string, opts?: StoreOptions): Store {
  const store = openStore(dir, opts);
  opened.push(store);
  return store;
}

/** A second, raw connection: what an attacker with the file, or a test poking at rows, sees. */
export function raw(dir: string, fn: (db: Database.Database) => void): void {
  const db = new Database(join(dir, 'hub.db'));
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/** A controllable clock in Unix seconds. */
export function clock(start = 1_800_000_000): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => { t = v; } };
}
