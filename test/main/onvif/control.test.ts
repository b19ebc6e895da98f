// ONVIF control against the device mock from the authors of npm `onvif`, inside a network
// namespace: discover → add with credentials (stream URI from the camera, identity pinned) →
// snapshot JPEG (digest auth) → PTZ move/stop/preset; then a second device claiming the same
// address with another identity is a warning and cannot be added over the pinned camera.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePin } from '../../../main/discovery/pins.ts';
import { openStore } from '../../../main/store/db.ts';
import { Netns, netnsSupport } from '../../support/netns/netns.ts';
import { startOnvifMock, type OnvifMock } from '../../support/onvif/mock.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`[skip] ONVIF mock tests: ${support.reason}`);
const ENTRY = 'test/support/netns/entry.ts';
const SPOOF_UUID = '0badc0de-0000-4000-8000-000000000001';

describe.skipIf(!support.ok)('ONVIF control against the device mock', () => {
  let ns: Netns;
  let mock: OnvifMock;
  let root: string;
  let dir: string;
  let cameraId: string;
  let deviceId: string;
  beforeAll(async () => {
    ns = Netns.create('onvif');
    mock = await startOnvifMock(ns, { user: 'admin', password: 'secret' });
    root = mkdtempSync(path.join(tmpdir(), 'vigil-onvif-'));
    dir = path.join(root, 'data');
  });
  afterAll(async () => {
    await ns?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  const run = (args: string[]) => ns.runTs(ENTRY, args, { timeoutMs: 20_000 });

  it('discovers the mock by WS-Discovery only, and sends it nothing else', async () => {
    const r = await run(['discover', '--seconds', '1.5', '--json', '--data', dir]);
    expect(r.code, r.stderr).toBe(0);
    const devices = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; via: string[]; streamUri?: string; onvif: { endpoint: string } });
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ via: ['onvif'], onvif: { endpoint: mock.endpoint } });
    expect(devices[0]!.streamUri).toBeUndefined();
    expect(mock.output()).not.toMatch(/received /);
    deviceId = devices[0]!.id;
  });

  it('adds it with the owner\'s credentials: the stream URI the camera gives, identity pinned', async () => {
    const r = await run(['add', '--data', dir, '--from-discovery', deviceId.slice(0, 6), '--user', 'admin', '--password', 'secret', '--name', 'Porch']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const added = JSON.parse(r.stdout) as { id: string; name: string; url: string };
    expect(added).toMatchObject({ name: 'Porch', url: 'rtsp://127.0.0.1:8554/cam' });
    expect(r.stderr).toMatch(/Mockup Manufacturer Mockup Model, serial 00000000/);
    expect(mock.output()).toMatch(/received device GetDeviceInformation/);
    expect(mock.output()).toMatch(/received media GetStreamUri/);
    cameraId = added.id;
    const store = openStore(dir);
    try {
      const c = store.getCamera(cameraId)!;
      expect(c).toMatchObject({ url: 'rtsp://127.0.0.1:8554/cam', username: 'admin', hasPassword: true });
      expect(decodePin(c.onvifPin)).toEqual({ v: 1, endpoint: mock.endpoint, serial: 'Mockup Manufacturer/Mockup Model/00000000', xaddr: mock.xaddr });
      expect(store.cameraUrlWithCredentials(cameraId)).toBe('rtsp://admin:secret@127.0.0.1:8554/cam');
    } finally {
      store.close();
    }
    const again = await run(['add', '--data', dir, '--from-discovery', deviceId, '--user', 'admin', '--password', 'secret']);
    expect(JSON.parse(again.stdout).error.message).toMatch(/already camera "Porch"/);
  });

  it('fetches a snapshot JPEG (GetSnapshotUri, then HTTP digest)', async () => {
    const r = await run(['snapshot', '--data', dir, '--camera', cameraId]);
    expect(JSON.parse(r.stdout)).toEqual({ bytes: 225, jpeg: true });
    expect(mock.output()).toMatch(/received media GetSnapshotUri/);
    expect(mock.output()).toMatch(/"event":"snapshot","authorized":true/);
  });

  it('moves, stops and goes to a preset (the SOAP requests reach the mock)', async () => {
    expect(JSON.parse((await run(['ptz', '--data', dir, '--camera', cameraId, '--move', '0.5,-0.25,0', '--seconds', '0.2'])).stdout)).toEqual({ ok: true });
    expect(mock.output()).toMatch(/received ptz ContinuousMove[\s\S]*received ptz Stop/);
    expect(JSON.parse((await run(['ptz', '--data', dir, '--camera', cameraId, '--preset', '2'])).stdout)).toEqual({ ok: true });
    expect(mock.output()).toMatch(/received ptz GetPresets[\s\S]*received ptz GotoPreset/);
    expect(JSON.parse((await run(['ptz', '--data', dir, '--camera', cameraId, '--stop'])).stdout)).toEqual({ ok: true });
    const bad = JSON.parse((await run(['ptz', '--data', dir, '--camera', cameraId, '--preset', 'P1</PresetToken><x>'])).stdout) as { error: { code: string } };
    expect(bad.error.code).toBe('invalid-argument');
  });

  it('a camera not added from ONVIF has no ONVIF control: a typed error', async () => {
    const store = openStore(dir);
    let plain: string;
    try {
      plain = store.addCamera({ name: 'Plain', url: 'rtsp://127.0.0.1:8554/other' }).id;
    } finally {
      store.close();
    }
    for (const cmd of ['snapshot', 'ptz']) {
      const r = await run([cmd, '--data', dir, '--camera', plain, ...(cmd === 'ptz' ? ['--stop'] : [])]);
      expect(JSON.parse(r.stdout).error).toMatchObject({ name: 'OnvifError', code: 'no-onvif' });
    }
  });

  it('a second device claiming the pinned camera\'s address is a warning, and cannot be added', async () => {
    const spoof = await startOnvifMock(ns, { port: 10102, endpointUuid: SPOOF_UUID });
    const r = await run(['discover', '--seconds', '1.5', '--json', '--data', dir]);
    expect(r.code, r.stderr).toBe(0);
    const devices = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; identity: string });
    expect(devices.map((d) => d.identity).sort()).toEqual([mock.endpoint, `urn:uuid:${SPOOF_UUID}`].sort());
    expect(r.stderr).toMatch(/warning: camera "Porch" at 127\.0\.0\.1 is pinned to urn:uuid:c9790c3a.*but urn:uuid:0badc0de.*the camera is unchanged/);
    const spoofId = devices.find((d) => d.identity === `urn:uuid:${SPOOF_UUID}`)!.id;
    const add = await run(['add', '--data', dir, '--from-discovery', spoofId, '--user', 'admin', '--password', 'secret']);
    expect(JSON.parse(add.stdout).error.message).toMatch(/pinned to .*refusing to add it/);
    expect(spoof.output()).not.toMatch(/received /); // no credentials, no SOAP request reached the spoof
    const store = openStore(dir);
    try {
      expect(decodePin(store.getCamera(cameraId)!.onvifPin)?.endpoint).toBe(mock.endpoint);
      expect(store.listCameras().map((c) => c.name).sort()).toEqual(['Plain', 'Porch']);
    } finally {
      store.close();
    }
  });
});
