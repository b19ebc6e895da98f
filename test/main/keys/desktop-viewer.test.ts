// The desktop viewer (main/keys/desktop-viewer.ts) with a stand-in for the OS keychain: it holds
// recording keys only behind a keychain, never on a headless hub; what it writes to the data
// directory opens nothing without that keychain; it is on the roster like a phone, and off again.
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../../crypto/bytes.ts';
import { exportDeviceIdentity, newHubIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { cryptoReady, sodium } from '../../../crypto/sodium.ts';
import {
  DESKTOP_VIEWER_FILE, DESKTOP_VIEWER_NAME, DesktopViewerError, OS_KEYCHAIN, disableDesktopViewer, enableDesktopViewer, openDesktopSeeds, openDesktopViewer,
  type KeychainProtector,
} from '../../../main/keys/desktop-viewer.ts';
import { HubRosterLog, rosterReport } from '../../../main/phones/roster-log.ts';
import { RecordingEpochs } from '../../../main/recording/epochs.ts';
import { RecordingIndex } from '../../../main/store/recordings.ts';
import { open, tempDataDir } from '../store/helpers.ts';

let hub: HubIdentity;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

/** A keychain: its key lives in this object (the OS's keychain), never in the data directory. */
function keychain(kind = OS_KEYCHAIN): KeychainProtector {
  const s = sodium();
  const key = s.crypto_secretbox_keygen();
  return {
    kind,
    protect(plain) {
      const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
      return new Uint8Array([...nonce, ...s.crypto_secretbox_easy(plain, nonce, key)]);
    },
    unprotect(blob) {
      return s.crypto_secretbox_open_easy(blob.subarray(s.crypto_secretbox_NONCEBYTES), blob.subarray(0, s.crypto_secretbox_NONCEBYTES), key);
    },
  };
}

function rig() {
  const dir = tempDataDir();
  const store = open(dir);
  const index = new RecordingIndex(store);
  const log = new HubRosterLog(hub, store);
  const epochs = new RecordingEpochs({ identity: hub, index, devices: () => store.listDevices() });
  let enrolled = 0;
  const enrol = async (certificate: Parameters<typeof store.addDevice>[0]['certificate'], name: string) => {
    enrolled++;
    const device = store.addDevice({ name, certificate });
    log.append('added', device, 'the hub\'s owner (desktop app)');
    epochs.rotate('device-added');
    return device;
  };
  return { dir, store, index, log, epochs, enrol, enrolled: () => enrolled };
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'done';
  } catch (e) {
    return e instanceof DesktopViewerError ? e.code : `not a DesktopViewerError: ${String(e)}`;
  }
}

describe('the desktop viewer', () => {
  it('a headless hub never holds recording keys: refused without a keychain, nothing written, nothing enrolled', async () => {
    const r = rig();
    r.epochs.rotate('start');
    for (const protector of [undefined, keychain('file'), keychain('basic_text')]) {
      expect(await code(enableDesktopViewer({ dataDir: r.dir, identity: hub, protector, enrol: r.enrol }))).toBe('no-keychain');
    }
    expect(existsSync(join(r.dir, DESKTOP_VIEWER_FILE))).toBe(false);
    expect(r.enrolled()).toBe(0);
    expect(r.index.allSealedKeys()).toEqual([]);
  });

  it('with a keychain: on the roster log like a phone, sealed the next epoch, and its keys on disk only wrapped', async () => {
    const r = rig();
    const owner = r.epochs.rotate('start');
    const kc = keychain();
    const on = await enableDesktopViewer({ dataDir: r.dir, identity: hub, protector: kc, enrol: r.enrol });
    expect(on.enrolled).toBe(true);
    const entry = rosterReport(hub, r.store).entries.at(-1)!;
    expect(entry).toMatchObject({ change: 'added', deviceId: on.deviceId, name: DESKTOP_VIEWER_NAME, role: 'viewer' });
    const file = join(r.dir, DESKTOP_VIEWER_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const viewer = openDesktopViewer(r.dir, kc);
    expect(toHex(viewer.deviceId)).toBe(on.deviceId);
    // No part of its private keys is in the file in clear.
    const secret = exportDeviceIdentity(viewer);
    const onDisk = readFileSync(file);
    for (let i = 1; i + 16 <= secret.length; i += 16) expect(onDisk.includes(Buffer.from(secret.subarray(i, i + 16)))).toBe(false);
    // It opens the epoch made when it joined, and none from before.
    const sealed = r.index.keysFor(on.deviceId, 0, 100).map((k) => k.sealed);
    const seeds = openDesktopSeeds(viewer, hub.hubId, sealed);
    expect([...seeds.keys()]).toEqual([owner.epoch + 1]);
    // Asked again: the same device, not a second one.
    expect(await enableDesktopViewer({ dataDir: r.dir, identity: hub, protector: kc, enrol: r.enrol })).toEqual({ deviceId: on.deviceId, enrolled: false });
    expect(r.enrolled()).toBe(1);
  });

  it('the data directory alone opens nothing: another keychain (or none) cannot unwrap it', async () => {
    const r = rig();
    r.epochs.rotate('start');
    await enableDesktopViewer({ dataDir: r.dir, identity: hub, protector: keychain(), enrol: r.enrol });
    expect(await code(() => openDesktopViewer(r.dir, keychain()))).toBe('damaged');
    expect(await code(() => openDesktopViewer(r.dir, undefined))).toBe('no-keychain');
    expect(await code(() => openDesktopViewer(tempDataDir(), keychain()))).toBe('not-enabled');
  });

  it('turned off: the device is removed, the wrapped key deleted, and no later epoch reaches it', async () => {
    const r = rig();
    r.epochs.rotate('start');
    const kc = keychain();
    const on = await enableDesktopViewer({ dataDir: r.dir, identity: hub, protector: kc, enrol: r.enrol });
    const revoked: string[] = [];
    expect(await disableDesktopViewer(r.dir, kc, async (id) => {
      revoked.push(id);
      return r.store.revokeDevice(id);
    })).toBe(true);
    expect(revoked).toEqual([on.deviceId]);
    expect(existsSync(join(r.dir, DESKTOP_VIEWER_FILE))).toBe(false);
    const later = r.epochs.rotate('device-removed');
    expect(r.index.hasKey(on.deviceId, later.epoch)).toBe(false);
    expect(await disableDesktopViewer(r.dir, kc, async () => true)).toBe(false);
  });
});
