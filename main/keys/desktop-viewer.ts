// Recordings played on the desktop app (issue 16, THREAT-MODEL T13): an opt-in "desktop viewer", a
// device of its own that holds recording keys the way a phone does. The hub seals each recording
// epoch to it like to any phone on the roster, and it is on the roster log (an alert on every
// phone, like any phone added). Its private keys are kept only wrapped by the OS keychain (Electron
// safeStorage, main/electron/desktop-viewer.main.ts): DATA/desktop-viewer.key holds the keychain's
// ciphertext, never the keys in clear. A hub without an OS keychain (headless, `vigil hub`, or a
// Linux desktop with no secret store) refuses it: a file that opens with nothing but the data
// directory would make the stolen disk a key to every recording, which is what sealing them to
// phones is for.
//
// No Electron here: the app passes a protector built on safeStorage; tests pass their own.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../crypto/bytes.ts';
import { issueCertificate, type DeviceCertificate } from '../../crypto/certificate.ts';
import {
  exportDeviceIdentity, importDeviceIdentity, newDeviceIdentity, type DeviceIdentity, type HubIdentity,
} from '../../crypto/identity.ts';
import { openEpochKey } from '../../crypto/recording.ts';
import type { Secret } from '../../crypto/secret.ts';
import { sodium } from '../../crypto/sodium.ts';

export const DESKTOP_VIEWER_FILE = 'desktop-viewer.key';
/** The name the roster log and every phone's alert show. */
export const DESKTOP_VIEWER_NAME = 'Desktop app (this computer)';
/** The only protector kind that may hold recording keys: the OS keychain (main/electron/key-protector.main.ts). */
export const OS_KEYCHAIN = 'os-keychain';
const MAGIC = 'vigil-desktop-viewer 1';
/** A wrapped device identity: a few hundred bytes; anything much larger is not one. */
const MAX_FILE_BYTES = 16 * 1024;

/** Wraps and unwraps bytes with a key the OS keychain holds (Electron safeStorage), never with one on the disk. */
export interface KeychainProtector {
  /** 'os-keychain' for the real keychain; anything else is refused. */
  readonly kind: string;
  protect(plain: Uint8Array): Uint8Array;
  unprotect(blob: Uint8Array): Uint8Array;
}

export type DesktopViewerProblem = 'no-keychain' | 'not-enabled' | 'damaged';

export class DesktopViewerError extends Error {
  override readonly name = 'DesktopViewerError';
  constructor(readonly code: DesktopViewerProblem, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

function requireKeychain(protector: KeychainProtector | undefined): KeychainProtector {
  if (protector === undefined || protector.kind !== OS_KEYCHAIN) {
    throw new DesktopViewerError('no-keychain', 'recordings play only on phones here: this hub has no OS keychain to keep recording keys in (a headless hub never holds them)');
  }
  return protector;
}

export interface EnableParts {
  dataDir: string;
  identity: HubIdentity;
  /** Undefined on a headless hub. */
  protector: KeychainProtector | undefined;
  /** Adds the device to the store and the roster log and starts a recording epoch sealed to it (Hub.enrolDesktopViewer). */
  enrol(certificate: DeviceCertificate, name: string): Promise<{ id: string }>;
  now?: () => number;
}

/**
 * Turns the desktop viewer on: a new device identity, its keys wrapped by the keychain and written
 * (0600, then renamed into place) before the hub enrols it, so no epoch is ever sealed to a key
 * this computer cannot open again. Enabled already: returns that device.
 */
export async function enableDesktopViewer(p: EnableParts): Promise<{ deviceId: string; enrolled: boolean }> {
  const protector = requireKeychain(p.protector);
  const path = join(p.dataDir, DESKTOP_VIEWER_FILE);
  if (existsSync(path)) return { deviceId: toHex(openDesktopViewer(p.dataDir, protector).deviceId), enrolled: false };
  const device = newDeviceIdentity();
  const secret = exportDeviceIdentity(device);
  let blob: Uint8Array;
  try {
    blob = protector.protect(secret);
  } finally {
    secret.fill(0);
  }
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${MAGIC} ${protector.kind}\n`);
    writeSync(fd, blob);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const certificate = issueCertificate(p.identity, {
    deviceId: device.deviceId, signingKey: device.signing.publicKey, exchangeKey: device.exchange.publicKey, pqKey: device.pq.publicKey,
    // It never logs in to a relay (it lives in the hub's own process): a key nobody holds.
    relayKey: sodium().randombytes_buf(32),
  }, 'viewer', (p.now ?? Date.now)());
  const enrolled = await p.enrol(certificate, DESKTOP_VIEWER_NAME);
  return { deviceId: enrolled.id, enrolled: true };
}

/** The desktop viewer's keys, unwrapped by the keychain (in memory only). */
export function openDesktopViewer(dataDir: string, protector: KeychainProtector | undefined): DeviceIdentity {
  const keychain = requireKeychain(protector);
  const path = join(dataDir, DESKTOP_VIEWER_FILE);
  if (!existsSync(path)) throw new DesktopViewerError('not-enabled', 'recordings are not enabled on this desktop');
  const bytes = readFileSync(path);
  const nl = bytes.indexOf(0x0a);
  if (bytes.length > MAX_FILE_BYTES || nl < 0 || bytes.subarray(0, nl).toString('utf8') !== `${MAGIC} ${keychain.kind}`) {
    throw new DesktopViewerError('damaged', `${DESKTOP_VIEWER_FILE} is not a desktop viewer key wrapped by the OS keychain`);
  }
  let secret: Uint8Array | undefined;
  try {
    secret = keychain.unprotect(new Uint8Array(bytes.subarray(nl + 1)));
    return importDeviceIdentity(secret);
  } catch (cause) {
    throw new DesktopViewerError('damaged', 'the OS keychain did not give back the desktop viewer\'s key (another user, or a reset keychain)', { cause });
  } finally {
    secret?.fill(0);
  }
}

/** The epoch seeds sealed to the desktop viewer (the store's recording_keys rows for it), opened in memory. */
export function openDesktopSeeds(viewer: DeviceIdentity, hubId: Uint8Array, sealed: readonly Uint8Array[]): Map<number, Secret> {
  const seeds = new Map<number, Secret>();
  for (const s of sealed) {
    const { epoch, seed } = openEpochKey(s, viewer, hubId);
    seeds.set(epoch, seed);
  }
  return seeds;
}

/** Turns it off: the hub removes the device (no later epoch reaches it), then the wrapped key goes. */
export async function disableDesktopViewer(dataDir: string, protector: KeychainProtector | undefined, revoke: (deviceId: string) => Promise<boolean>): Promise<boolean> {
  const path = join(dataDir, DESKTOP_VIEWER_FILE);
  if (!existsSync(path)) return false;
  const id = toHex(openDesktopViewer(dataDir, protector).deviceId);
  await revoke(id);
  rmSync(path, { force: true });
  return true;
}
