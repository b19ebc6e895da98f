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
// DesktopViewer is what the hub UI's calls reach (HubService.attachDesktop): the owner's switch, and
// ranges played in this process (desktop-playback.ts) into an MP4 kept in memory until the page
// takes it, once. Nothing opened is written to disk.
//
// No Electron here: the app passes a protector built on safeStorage; tests pass their own.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { DesktopRecordings, RecordingClip } from '../../contract/hub-ui.ts';
import { toHex, wipe } from '../../crypto/bytes.ts';
import { issueCertificate, type DeviceCertificate } from '../../crypto/certificate.ts';
import {
  exportDeviceIdentity, importDeviceIdentity, newDeviceIdentity, type DeviceIdentity, type HubIdentity,
} from '../../crypto/identity.ts';
import { openEpochKey } from '../../crypto/recording.ts';
import type { Secret } from '../../crypto/secret.ts';
import { sodium } from '../../crypto/sodium.ts';
import { playRange, type PlaybackIndex } from './desktop-playback.ts';

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

export type DesktopViewerProblem =
  | 'no-keychain' // no OS keychain here: a headless hub, or Linux with only safeStorage's basic_text
  | 'not-enabled' // the owner has not turned it on (or turned it off)
  | 'damaged' // the wrapped key does not open with this keychain
  | 'too-large' // a range whose MP4 is larger than one play holds in memory
  | 'no-recording'; // nothing of that camera opens in that range

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

/** What the UI says where recordings cannot play on this computer. */
export const NO_KEYCHAIN_WHY = 'No OS keychain here to keep recording keys in (a headless hub, or a desktop without a secret store), so recordings play on your phones.';
/** The longest range one play opens, and the most bytes its MP4 may hold in memory. */
export const MAX_PLAY_SECONDS = 3600;
export const MAX_CLIP_BYTES = 256 * 1024 * 1024;
/** A played MP4 waits this long for the page to take it, then it is dropped; at most this many wait. */
export const CLIP_TTL_MS = 60_000;
export const MAX_CLIPS_HELD = 2;

/**
 * Keeps the owner's choice in the app's settings.json (`"recordingsOnDesktop"`), other settings as
 * they were; written to a temporary file and renamed, so a crash leaves the old file or the new one.
 */
export function saveRecordingsOnDesktop(settingsPath: string, enabled: boolean): void {
  let settings: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(settingsPath, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) settings = parsed as Record<string, unknown>;
  } catch {
    // No file yet (or not JSON, which the app reads as no settings): start from none.
  }
  settings.recordingsOnDesktop = enabled;
  const tmp = `${settingsPath}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(settings, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, settingsPath);
}

export interface DesktopViewerParts {
  dataDir: string;
  identity: HubIdentity;
  /** Undefined where there is no OS keychain: then nothing here ever holds a recording key. */
  protector: KeychainProtector | undefined;
  /** The hub's recording index (Hub.recordings.index). */
  index: PlaybackIndex;
  enrol: EnableParts['enrol'];
  revoke(deviceId: string): Promise<boolean>;
  /** Keeps the owner's choice across restarts (the app's settings.json); none: for this run only. */
  persist?: (enabled: boolean) => void;
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * Recordings on this computer, as the hub's UI turns them on and plays them (HubService): the same
 * enable and disable as at the app's start, and ranges opened in this process with the desktop
 * viewer's keys (desktop-playback.ts) into an MP4 held in memory until the page takes it.
 */
export class DesktopViewer {
  readonly #clips = new Map<string, { bytes: Uint8Array; timer: ReturnType<typeof setTimeout> }>();
  /** Turning on and off one at a time (each enrols or removes a device). */
  #switching: Promise<unknown> = Promise.resolve();

  constructor(private readonly p: DesktopViewerParts) {}

  get #file(): string {
    return join(this.p.dataDir, DESKTOP_VIEWER_FILE);
  }

  state(): DesktopRecordings {
    const available = this.p.protector?.kind === OS_KEYCHAIN;
    return available ? { available, enabled: existsSync(this.#file) } : { available, enabled: false, why: NO_KEYCHAIN_WHY };
  }

  /** The owner's setting applied: enrols the viewer when wanted, removes it when no longer (the app's start). */
  async apply(wanted: boolean): Promise<void> {
    const log = this.p.log ?? (() => undefined);
    try {
      if (wanted) {
        const r = await enableDesktopViewer({ dataDir: this.p.dataDir, identity: this.p.identity, protector: this.p.protector, enrol: this.p.enrol, ...(this.p.now ? { now: this.p.now } : {}) });
        if (r.enrolled) log(`recordings on this desktop: on (device ${r.deviceId.slice(0, 8)}; every phone sees it in the roster log)`);
      } else if (await disableDesktopViewer(this.p.dataDir, this.p.protector, this.p.revoke)) {
        log('recordings on this desktop: off (its recording keys are removed; no new epoch reaches it)');
      }
    } catch (e) {
      log(`recordings on this desktop: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * The owner's switch: on enrols the viewer, then keeps the choice; off keeps the choice first, then
   * removes the viewer, so a crash between never turns it back on. Refused without a keychain.
   */
  set(enabled: boolean): Promise<DesktopRecordings> {
    const run = this.#switching.catch(() => undefined).then(async () => {
      requireKeychain(this.p.protector);
      if (enabled) {
        await enableDesktopViewer({ dataDir: this.p.dataDir, identity: this.p.identity, protector: this.p.protector, enrol: this.p.enrol, ...(this.p.now ? { now: this.p.now } : {}) });
        this.p.persist?.(true);
      } else {
        this.p.persist?.(false);
        await disableDesktopViewer(this.p.dataDir, this.p.protector, this.p.revoke);
        this.dropClips();
      }
      return this.state();
    });
    this.#switching = run;
    return run;
  }

  /**
   * Opens the camera's recordings over [from, from + seconds) with the viewer's keys into one MP4,
   * kept in memory for takeClip. Refused, before any key is unwrapped or any file read, where the
   * owner has not turned it on or there is no keychain.
   */
  async play(cameraId: string, from: number, seconds: number): Promise<RecordingClip> {
    const protector = requireKeychain(this.p.protector);
    if (!existsSync(this.#file)) throw new DesktopViewerError('not-enabled', 'recordings do not play on this computer: turn on "Play recordings on this computer" first');
    if (!(seconds > 0 && seconds <= MAX_PLAY_SECONDS)) throw new DesktopViewerError('too-large', `play from 1 s to ${MAX_PLAY_SECONDS} s at a time`);
    const viewer = openDesktopViewer(this.p.dataDir, protector);
    let total = 0;
    try {
      const to = from + Math.round(seconds * 1000);
      const played = await playRange({
        viewer, identity: this.p.identity, index: this.p.index, dataDir: this.p.dataDir,
        budget: (n) => {
          total += n;
          if (total > MAX_CLIP_BYTES) throw new DesktopViewerError('too-large', `the recording from then is larger than ${MAX_CLIP_BYTES >> 20} MiB: play a shorter range`);
        },
      }, cameraId, from, to);
      const o = played.outcome;
      if (o.segments === 0 || o.start === undefined || o.end === undefined) {
        const why = played.noKey > 0 ? `this computer holds no key of what was recorded then (it was turned on later, ${played.noKey} segments)` : 'nothing recorded of this camera then';
        throw new DesktopViewerError('no-recording', `${why}${played.lines.length > 0 ? `; ${played.lines.slice(0, 3).join('; ')}` : ''}`);
      }
      const bytes = new Uint8Array(total);
      let at = 0;
      for (const part of played.parts) {
        bytes.set(part, at);
        at += part.length;
      }
      const lines = [...played.lines];
      if (o.endedAt !== undefined) lines.push(`the file ends at ${new Date(o.endedAt.time).toISOString()}: ${o.endedAt.why}`);
      return { clip: this.#keep(bytes), mime: 'video/mp4', bytes: bytes.length, start: o.start, end: o.end, segments: o.segments, partial: o.partial, left: o.left, lines };
    } finally {
      wipeDevice(viewer);
    }
  }

  /** A played MP4, once; undefined when unknown, taken already or expired. */
  takeClip(id: string): Uint8Array | undefined {
    const c = this.#clips.get(id);
    if (c === undefined) return undefined;
    clearTimeout(c.timer);
    this.#clips.delete(id);
    return c.bytes;
  }

  /** Every MP4 waiting in memory goes (turned off, the hub closing). */
  dropClips(): void {
    for (const c of this.#clips.values()) {
      clearTimeout(c.timer);
      wipe(c.bytes);
    }
    this.#clips.clear();
  }

  #keep(bytes: Uint8Array): string {
    // The oldest waiting MP4 goes first: a page that never takes them holds at most MAX_CLIPS_HELD.
    while (this.#clips.size >= MAX_CLIPS_HELD) {
      const oldest = this.#clips.keys().next().value as string;
      this.takeClip(oldest);
    }
    const id = randomBytes(16).toString('hex');
    const timer = setTimeout(() => {
      this.#clips.delete(id);
      wipe(bytes);
    }, CLIP_TTL_MS);
    timer.unref();
    this.#clips.set(id, { bytes, timer });
    return id;
  }
}

/** The viewer's private keys, wiped once a play is done with them (they are unwrapped again for the next). */
function wipeDevice(d: DeviceIdentity): void {
  for (const pair of [d.signing, d.exchange, d.pq]) pair.privateKey.wipe();
}
