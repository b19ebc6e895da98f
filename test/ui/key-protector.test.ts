// The desktop app's key protection, with a stand-in for Electron's safeStorage (no binary here).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SafeStorage } from 'electron';
import { chooseKeyProtector, safeStorageKeyProtector, SAFE_STORAGE_KIND } from '../../main/electron/key-protector.main.ts';
import { openStore } from '../../main/store/db.ts';

function fakeSafeStorage(backend: string, available = true): SafeStorage {
  // Reversible and not the identity, so a missing unwrap shows up.
  const flip = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
  return {
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: () => backend,
    encryptString: (s: string) => flip(Buffer.from(`v10${s}`)),
    decryptString: (b: Buffer) => flip(b).toString().slice(3),
  } as unknown as SafeStorage;
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'vigil-kp-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('safeStorage key protector', () => {
  it('wraps the data key in the OS keychain for a new hub, and opens it again', () => {
    const dir = tmp();
    const ss = fakeSafeStorage('gnome_libsecret');
    const { protector, warning } = chooseKeyProtector(ss, dir);
    expect(protector.kind).toBe(SAFE_STORAGE_KIND);
    expect(warning).toBeUndefined();
    const store = openStore(dir, { keyProtector: protector });
    const id = store.addCamera({ name: 'Door', url: 'rtsp://u:secret@cam/1' }).id;
    expect(store.keyProtection).toBe(SAFE_STORAGE_KIND);
    store.close();
    expect(readFileSync(join(dir, 'hub.key'), 'utf8')).toMatch(/^vigil-hub-key 1 os-keychain\n/);
    const again = openStore(dir, { keyProtector: chooseKeyProtector(ss, dir).protector });
    expect(again.cameraUrlWithCredentials(id)).toContain('secret');
    again.close();
  });

  it('falls back to the key file, with a warning, where safeStorage protects nothing', () => {
    for (const ss of [fakeSafeStorage('basic_text'), fakeSafeStorage('gnome_libsecret', false)]) {
      const r = chooseKeyProtector(ss, tmp());
      expect(r.protector.kind).toBe('file');
      expect(r.warning).toMatch(/file permissions/);
    }
  });

  it('keeps an existing hub on the protector its key file names', () => {
    const dir = tmp();
    openStore(dir).close(); // created headless: 'file'
    const r = chooseKeyProtector(fakeSafeStorage('kwallet5'), dir);
    expect(r.protector.kind).toBe('file');
    expect(r.warning).toMatch(/headless/);
    const kc = tmp();
    openStore(kc, { keyProtector: safeStorageKeyProtector(fakeSafeStorage('kwallet5')) }).close();
    expect(() => chooseKeyProtector(fakeSafeStorage('basic_text'), kc)).toThrow(/keychain/);
  });
});
