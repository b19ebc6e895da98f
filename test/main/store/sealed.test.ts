import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { exportHubIdentity, newHubIdentity } from '../../../crypto/identity.ts';
import { Secret } from '../../../crypto/secret.ts';
import { isStoreError } from '../../../main/store/errors.ts';
import {
  DataKey, SEAL_CAMERA_PASSWORD, SEAL_INVITE_SECRET, type KeyProtector,
} from '../../../main/store/sealed.ts';
import { openStore } from '../../../main/store/db.ts';
import { open, raw, tempDataDir } from './helpers.ts';

beforeAll(async () => {
  await cryptoReady();
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('DataKey', () => {
  const key = new DataKey(randomBytes(32));
  const id = 'ab'.repeat(16);

  it('opens what it sealed, for the same column and row only', () => {
    const sealed = key.seal(SEAL_CAMERA_PASSWORD, id, Buffer.from('hunter2'));
    expect(sealed.length).toBe(1 + 12 + 7 + 16);
    expect(Buffer.from(key.open(SEAL_CAMERA_PASSWORD, id, sealed)).toString()).toBe('hunter2');
    expect(isStoreError(thrown(() => key.open(SEAL_CAMERA_PASSWORD, 'cd'.repeat(16), sealed)), 'tampered')).toBe(true);
    expect(isStoreError(thrown(() => key.open(SEAL_INVITE_SECRET, id, sealed)), 'tampered')).toBe(true);
    expect(isStoreError(thrown(() => new DataKey(randomBytes(32)).open(SEAL_CAMERA_PASSWORD, id, sealed)), 'tampered')).toBe(true);
  });

  it('rejects any changed bit, a short value and an unknown version', () => {
    const sealed = key.seal(SEAL_CAMERA_PASSWORD, id, Buffer.from('hunter2'));
    for (let i = 0; i < sealed.length * 8; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(() => key.open(SEAL_CAMERA_PASSWORD, id, bad)).toThrow();
    }
    expect(() => key.open(SEAL_CAMERA_PASSWORD, id, sealed.subarray(0, 28))).toThrow(/too short/);
  });

  it('uses a fresh nonce each time', () => {
    const a = key.seal(SEAL_CAMERA_PASSWORD, id, Buffer.from('x'));
    const b = key.seal(SEAL_CAMERA_PASSWORD, id, Buffer.from('x'));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

describe('secrets at rest', () => {
  it('never writes a camera password or the hub private keys in clear, in hub.db or its WAL', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const password = 'correct-horse-battery-staple-7731';
    const hub = newHubIdentity();
    const identity = exportHubIdentity(hub);
    store.saveHubIdentity(identity);
    const cam = store.addCamera({ name: 'Porch', url: `rtsp://admin:${password}@192.168.1.20/live` });
    store.renameCamera(cam.id, 'Front porch');
    store.addInvite({ inviteId: randomBytes(16), secret: new Secret(Buffer.from('invite-secret-material-0123456789'), 'x'), expiresAt: 4_000_000_000 });

    const needles: [string, Buffer][] = [
      ['password', Buffer.from(password)],
      ['password (encoded)', Buffer.from(encodeURIComponent(password))],
      ['signing key', Buffer.from(hub.signing.privateKey.expose().subarray(0, 32))],
      ['exchange key', Buffer.from(hub.exchange.privateKey.expose())],
      ['x-wing seed', Buffer.from(hub.pq.privateKey.expose())],
      ['relay key', Buffer.from(hub.relay.privateKey.expose().subarray(0, 32))],
      ['invite secret', Buffer.from('invite-secret-material-0123456789')],
    ];
    const check = (when: string): void => {
      const files = readdirSync(dir).filter((f) => f.startsWith('hub.db'));
      expect(files).toContain('hub.db');
      for (const f of files) {
        const bytes = readFileSync(join(dir, f));
        for (const [what, needle] of needles) expect(bytes.includes(needle), `${what} in ${f} ${when}`).toBe(false);
      }
    };
    check('before checkpoint');
    expect(statSync(join(dir, 'hub.db-wal')).size).toBeGreaterThan(0);
    raw(dir, (db) => db.pragma('wal_checkpoint(TRUNCATE)'));
    check('after checkpoint');
    store.close();
    check('after close');
    // And the store still reads them back.
    const again = open(dir);
    expect(Buffer.from(again.getHubIdentity() ?? []).equals(Buffer.from(identity))).toBe(true);
    expect(again.cameraUrlWithCredentials(cam.id)).toBe(`rtsp://admin:${password}@192.168.1.20/live`);
  });

  it('refuses a sealed value copied into another row or column', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const a = store.addCamera({ name: 'A', url: 'rtsp://admin:password-of-a@10.0.0.1/' });
    const b = store.addCamera({ name: 'B', url: 'rtsp://admin:password-of-b@10.0.0.2/' });
    const inviteA = store.addInvite({ inviteId: randomBytes(16), secret: randomBytes(32), expiresAt: 4_000_000_000 });
    const inviteB = store.addInvite({ inviteId: randomBytes(16), secret: randomBytes(32), expiresAt: 4_000_000_000 });
    raw(dir, (db) => {
      db.prepare('UPDATE cameras SET password = (SELECT password FROM cameras WHERE id = ?) WHERE id = ?').run(a.id, b.id);
      db.prepare('UPDATE invites SET secret = (SELECT secret FROM invites WHERE id = ?) WHERE id = ?').run(inviteA, inviteB);
    });
    expect(isStoreError(thrown(() => store.cameraUrlWithCredentials(b.id)), 'tampered')).toBe(true);
    expect(isStoreError(thrown(() => store.getInvite(inviteB)), 'tampered')).toBe(true);
    expect(store.cameraUrlWithCredentials(a.id)).toContain('password-of-a');
    // A camera password moved into the hub identity column does not open there either.
    raw(dir, (db) => db.prepare('INSERT INTO hub_identity (id, secret, created_at) SELECT 1, password, 0 FROM cameras WHERE id = ?').run(a.id));
    expect(isStoreError(thrown(() => store.getHubIdentity()), 'tampered')).toBe(true);
  });
});

describe('hub.key', () => {
  it('is created with mode 0600', () => {
    const dir = tempDataDir();
    open(dir);
    expect(statSync(join(dir, 'hub.key')).mode & 0o777).toBe(0o600);
  });

  it('refuses to start when hub.key is group or world readable', () => {
    const dir = tempDataDir();
    open(dir).close();
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(join(dir, 'hub.key'), mode);
      const error = thrown(() => openStore(dir));
      expect(isStoreError(error, 'key-insecure')).toBe(true);
      expect(String(error)).toMatch(/chmod 600/);
    }
    chmodSync(join(dir, 'hub.key'), 0o600);
    open(dir);
  });

  it('refuses to make a new key when hub.db holds secrets sealed with a lost one', () => {
    const dir = tempDataDir();
    const store = open(dir);
    store.addCamera({ name: 'A', url: 'rtsp://u:p@10.0.0.1/' });
    store.close();
    rmSync(join(dir, 'hub.key'));
    expect(isStoreError(thrown(() => openStore(dir)), 'key-missing')).toBe(true);
  });

  it('refuses a hub.key from another hub', () => {
    const one = tempDataDir();
    const two = tempDataDir();
    open(one).close();
    open(two).close();
    renameSync(join(two, 'hub.key'), join(one, 'hub.key'));
    expect(isStoreError(thrown(() => openStore(one)), 'key-mismatch')).toBe(true);
  });

  it('refuses a file that is not a hub key', () => {
    const dir = tempDataDir();
    open(dir).close();
    writeFileSync(join(dir, 'hub.key'), randomBytes(32), { mode: 0o600 });
    expect(String(thrown(() => openStore(dir)))).toMatch(/not a Vigil hub key file/);
  });

  it('takes an injected protector, records its kind, and will not mix protectors', () => {
    const dir = tempDataDir();
    const calls: string[] = [];
    const mask = randomBytes(32);
    const xor = (b: Uint8Array): Uint8Array => Uint8Array.from(b, (v, i) => v ^ mask[i % 32]!);
    const keychain: KeyProtector = {
      kind: 'test-keychain',
      protect: (key) => { calls.push('protect'); return xor(key); },
      unprotect: (blob) => { calls.push('unprotect'); return xor(blob); },
    };
    const store = open(dir, { keyProtector: keychain });
    expect(store.keyProtection).toBe('test-keychain');
    const cam = store.addCamera({ name: 'A', url: 'rtsp://u:pw@10.0.0.1/' });
    store.close();
    expect(calls).toEqual(['protect', 'unprotect']);
    expect(readFileSync(join(dir, 'hub.key')).subarray(0, 29).toString()).toBe('vigil-hub-key 1 test-keychain');
    const error = thrown(() => openStore(dir));
    expect(isStoreError(error, 'key-mismatch')).toBe(true);
    expect(String(error)).toMatch(/"test-keychain"/);
    expect(open(dir, { keyProtector: keychain }).cameraUrlWithCredentials(cam.id)).toBe('rtsp://u:pw@10.0.0.1/');
  });
});
