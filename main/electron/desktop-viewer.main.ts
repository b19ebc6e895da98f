// The desktop app's side of recordings played on this computer (main/keys/desktop-viewer.ts): the
// keychain protector on Electron's safeStorage, and the owner's opt-in, from settings.json
// (`"recordingsOnDesktop": true`) at start and from the Recordings screen's switch after. Without a
// real keychain behind safeStorage (Linux 'basic_text') there is no protector, and the plain module
// refuses to hold any recording key.
import type { SafeStorage } from 'electron';
import type { DeviceCertificate } from '../../crypto/certificate.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import type { PlaybackIndex } from '../keys/desktop-playback.ts';
import { DesktopViewer, OS_KEYCHAIN, saveRecordingsOnDesktop, type KeychainProtector } from '../keys/desktop-viewer.ts';
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
  readonly recordings: { readonly index: PlaybackIndex };
  readonly service: { attachDesktop(desktop: DesktopViewer): void };
  enrolDesktopViewer(certificate: DeviceCertificate, name: string): Promise<{ id: string }>;
  revokeDevice(id: string): Promise<boolean>;
}

/**
 * Recordings on this computer for the app: the owner's setting from settings.json applied at start,
 * and the same DesktopViewer attached to the hub's UI calls, so the Recordings screen's switch turns
 * it on and off (kept in settings.json) and plays ranges in this process.
 */
export async function startDesktopRecordings(hub: DesktopHub, safeStorage: SafeStorage, dataDir: string, settingsPath: string, wanted: boolean, log: (line: string) => void): Promise<DesktopViewer> {
  const viewer = new DesktopViewer({
    dataDir, identity: hub.identity, protector: keychainProtector(safeStorage), index: hub.recordings.index,
    enrol: (c, name) => hub.enrolDesktopViewer(c, name), revoke: (id) => hub.revokeDevice(id),
    persist: (on) => saveRecordingsOnDesktop(settingsPath, on), log,
  });
  await viewer.apply(wanted);
  hub.service.attachDesktop(viewer);
  return viewer;
}
