// The desktop app's side of recordings played on this computer (main/keys/desktop-viewer.ts): the
// keychain protector on Electron's safeStorage, and the owner's opt-in from settings.json
// (`"recordingsOnDesktop": true`). Without a real keychain behind safeStorage (Linux 'basic_text')
// there is no protector, and the plain module refuses to hold any recording key.
import type { SafeStorage } from 'electron';
import type { DeviceCertificate } from '../../crypto/certificate.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import { OS_KEYCHAIN, disableDesktopViewer, enableDesktopViewer, type KeychainProtector } from '../keys/desktop-viewer.ts';
import { safeStorageUsable } from './key-protector.main.ts';

/** safeStorage as a KeychainProtector, or undefined where it would protect nothing. */
export function keychainProtector(safeStorage: SafeStorage): KeychainProtector | undefined {
  if (!safeStorageUsable(safeStorage)) return undefined;
  return {
    kind: OS_KEYCHAIN,
    // safeStorage encrypts strings: base64 keeps the bytes exact.
    protect: (plain) => new Uint8Array(safeStorage.encryptString(Buffer.from(plain).toString('base64'))),
    unprotect: (blob) => new Uint8Array(Buffer.from(safeStorage.decryptString(Buffer.from(blob)), 'base64')),
  };
}

export interface DesktopHub {
  readonly identity: HubIdentity;
  enrolDesktopViewer(certificate: DeviceCertificate, name: string): Promise<{ id: string }>;
  revokeDevice(id: string): Promise<boolean>;
}

/** Applies the owner's setting at start: enrols the desktop viewer when asked, removes it when no longer. */
export async function applyDesktopRecordings(hub: DesktopHub, safeStorage: SafeStorage, dataDir: string, wanted: boolean, log: (line: string) => void): Promise<void> {
  const protector = keychainProtector(safeStorage);
  try {
    if (wanted) {
      const r = await enableDesktopViewer({ dataDir, identity: hub.identity, protector, enrol: (c, name) => hub.enrolDesktopViewer(c, name) });
      if (r.enrolled) log(`recordings on this desktop: on (device ${r.deviceId.slice(0, 8)}; every phone sees it in the roster log)`);
    } else if (await disableDesktopViewer(dataDir, protector, (id) => hub.revokeDevice(id))) {
      log('recordings on this desktop: off (its recording keys are removed; no new epoch reaches it)');
    }
  } catch (e) {
    log(`recordings on this desktop: ${e instanceof Error ? e.message : String(e)}`);
  }
}
