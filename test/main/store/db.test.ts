import { describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isStoreError } from '../../../main/store/errors.ts';
import { SCHEMA_VERSION } from '../../../main/store/migrations.ts';
import { openStore } from '../../../main/store/db.ts';
import { open, raw, tempDataDir } from './helpers.ts';

function tables(dir: string): string[] {
  let names: string[] = [];
  raw(dir, (db) => {
    names = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all().map((r) => r.name);
  });
  return names;
}

describe('openStore', () => {
  it('creates a private data directory and migrates an empty database to the current version', () => {
    const dir = tempDataDir();
    const store = open(dir);
    expect(existsSync(join(dir, 'hub.db'))).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'hub.db')).mode & 0o077).toBe(0);
    store.close();
    raw(dir, (db) => expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION));
    expect(tables(dir)).toEqual([
      'audit', 'cameras', 'counters', 'detection_settings', 'devices', 'epochs', 'events', 'hub_identity', 'invites', 'meta',
      'push_subscriptions', 'recording_epochs', 'recording_keys',
      'recording_settings', 'roster_log', 'segments',
    ]);
  });

  it('re-opens idempotently and keeps the data', () => {
    const dir = tempDataDir();
    const first = open(dir);
    first.addCamera({ name: 'Porch', url: 'rtsp://192.168.1.10/stream' });
    first.close();
    const before = tables(dir);
    for (let i = 0; i < 3; i++) {
      const again = open(dir);
      expect(again.listCameras().map((c) => c.name)).toEqual(['Porch']);
      again.close();
    }
    expect(tables(dir)).toEqual(before);
    raw(dir, (db) => expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION));
  });

  it('runs in WAL mode', () => {
    const dir = tempDataDir();
    const store = open(dir);
    store.nextEpoch('start');
    raw(dir, (db) => expect(db.pragma('journal_mode', { simple: true })).toBe('wal'));
    expect(existsSync(join(dir, 'hub.db-wal'))).toBe(true);
  });

  it('refuses a database from a newer version, without touching it', () => {
    const dir = tempDataDir();
    open(dir).close();
    raw(dir, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
    let error: unknown;
    try {
      openStore(dir);
    } catch (e) {
      error = e;
    }
    expect(isStoreError(error, 'newer-version')).toBe(true);
    expect(String(error)).toMatch(/newer Vigil/);
    raw(dir, (db) => expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1));
  });

  it('reports keyProtection and refuses use after close', () => {
    const store = open(tempDataDir());
    expect(store.keyProtection).toBe('file');
    store.close();
    expect(store.open).toBe(false);
    expect(() => store.listCameras()).toThrow(/closed/);
    store.close(); // twice is fine
  });
});

describe('hub identity', () => {
  it('is created once and read back the same, even from a second store', () => {
    const dir = tempDataDir();
    const a = open(dir);
    expect(a.getHubIdentity()).toBeUndefined();
    let calls = 0;
    const made = a.getOrCreateHubIdentity(() => {
      calls++;
      return Uint8Array.from({ length: 225 }, (_, i) => i);
    });
    const b = open(dir);
    const again = b.getOrCreateHubIdentity(() => {
      calls++;
      return new Uint8Array(225);
    });
    expect(calls).toBe(1);
    expect(Buffer.from(again).equals(Buffer.from(made))).toBe(true);
    expect(Buffer.from(b.getHubIdentity() ?? []).equals(Buffer.from(made))).toBe(true);
  });

  it('is never replaced', () => {
    const store = open(tempDataDir());
    store.saveHubIdentity(new Uint8Array([1, 2, 3]));
    expect(() => store.saveHubIdentity(new Uint8Array([4, 5, 6]))).toThrow(/never replaced/);
    expect([...(store.getHubIdentity() ?? [])]).toEqual([1, 2, 3]);
  });
});
