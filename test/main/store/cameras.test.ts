import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../../main/store/errors.ts';
import { open, raw, tempDataDir } from './helpers.ts';

describe('cameras', () => {
  it('adds a camera with store-made id, number and topic, and keeps the password out of the row it returns', () => {
    const store = open(tempDataDir(), { now: () => 1_800_000_000 });
    const cam = store.addCamera({ name: ' Front door ', url: 'rtsp://admin:hunter2@192.168.1.20:554/Streaming/Channels/101' });
    expect(cam.id).toMatch(/^[0-9a-f]{32}$/);
    expect(cam.topic).toMatch(/^[0-9a-f]{32}$/);
    expect(cam.topic).not.toBe(cam.id);
    expect(cam).toMatchObject({
      number: 1, name: 'Front door', url: 'rtsp://192.168.1.20:554/Streaming/Channels/101', username: 'admin',
      hasPassword: true, kind: 'rtsp', onvifPin: null, addedAt: 1_800_000_000, removedAt: null,
    });
    expect(JSON.stringify(store.listCameras())).not.toContain('hunter2');
    expect(store.cameraUrlWithCredentials(cam.id)).toBe('rtsp://admin:hunter2@192.168.1.20:554/Streaming/Channels/101');
  });

  it('finds a camera by id or by name, ignoring case', () => {
    const store = open(tempDataDir());
    const cam = store.addCamera({ name: 'Garage', url: 'rtsp://10.0.0.5/live' });
    expect(store.getCamera(cam.id)?.name).toBe('Garage');
    expect(store.getCamera(cam.id.toUpperCase())?.name).toBe('Garage');
    expect(store.getCamera('garage')?.id).toBe(cam.id);
    expect(store.getCamera('nope')).toBeUndefined();
  });

  it('keeps names unique among active cameras, with a clear error', () => {
    const store = open(tempDataDir());
    const porch = store.addCamera({ name: 'Porch', url: 'rtsp://10.0.0.1/a' });
    for (const name of ['Porch', 'porch', ' PORCH ']) {
      let error: unknown;
      try {
        store.addCamera({ name, url: 'rtsp://10.0.0.2/a' });
      } catch (e) {
        error = e;
      }
      expect(isStoreError(error, 'exists')).toBe(true);
      expect(String(error)).toMatch(/a camera named .* already exists/);
    }
    const yard = store.addCamera({ name: 'Yard', url: 'rtsp://10.0.0.3/a' });
    expect(() => store.renameCamera(yard.id, 'PORCH')).toThrow(/already exists/);
    expect(store.renameCamera(yard.id, 'Back yard').name).toBe('Back yard');
    expect(store.renameCamera(porch.id, 'porch').name).toBe('porch'); // its own name, new case
    // A removed camera frees its name.
    expect(store.removeCamera(porch.id)).toBe(true);
    expect(store.addCamera({ name: 'Porch', url: 'rtsp://10.0.0.4/a' }).name).toBe('Porch');
  });

  it('never reuses a camera number, even after removal and re-open', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const a = store.addCamera({ name: 'A', url: 'rtsp://10.0.0.1/a' });
    const b = store.addCamera({ name: 'B', url: 'rtsp://10.0.0.2/a' });
    expect([a.number, b.number]).toEqual([1, 2]);
    store.removeCamera(b.id);
    store.close();
    const again = open(dir);
    expect(again.addCamera({ name: 'C', url: 'rtsp://10.0.0.3/a' }).number).toBe(3);
    expect(again.listCameras().map((c) => c.number)).toEqual([1, 3]);
    expect(again.listCameras({ includeRemoved: true }).map((c) => c.number)).toEqual([1, 2, 3]);
  });

  it('forgets credentials on removal and refuses their URL afterwards', () => {
    const dir = tempDataDir();
    const store = open(dir);
    const cam = store.addCamera({ name: 'Old', url: 'rtsp://u:secretpw@10.0.0.9/a' });
    expect(store.removeCamera(cam.id)).toBe(true);
    expect(store.removeCamera(cam.id)).toBe(false);
    expect(store.getCamera(cam.id)?.removedAt).toEqual(expect.any(Number));
    expect(store.getCamera(cam.id)?.hasPassword).toBe(false);
    expect(() => store.cameraUrlWithCredentials(cam.id)).toThrow(/no such camera/);
    raw(dir, (db) => expect(db.prepare('SELECT password, username FROM cameras WHERE id = ?').get(cam.id)).toEqual({ password: null, username: null }));
  });

  it('takes credentials given on their own, but not twice', () => {
    const store = open(tempDataDir());
    const cam = store.addCamera({ name: 'Side', url: 'rtsp://10.0.0.7/h264', username: 'viewer', password: 'p@ss:w/rd' });
    expect(store.cameraUrlWithCredentials(cam.id)).toBe('rtsp://viewer:p%40ss%3Aw%2Frd@10.0.0.7/h264');
    expect(() => store.addCamera({ name: 'Dup', url: 'rtsp://a:b@10.0.0.8/', password: 'c' })).toThrow(/both in the URL/);
  });

  it('stores test-pattern cameras, which take no credentials', () => {
    const store = open(tempDataDir());
    const cam = store.addCamera({ name: 'Bars', url: 'smpte', kind: 'test-pattern' });
    expect(cam).toMatchObject({ kind: 'test-pattern', url: 'smpte', hasPassword: false, username: null });
    expect(() => store.addCamera({ name: 'Bad', url: 'x?password=1', kind: 'test-pattern' })).toThrow(/no credentials/);
  });

  it('pins an ONVIF identity and validates names', () => {
    const store = open(tempDataDir());
    const cam = store.addCamera({ name: 'Pin', url: 'rtsp://10.0.0.1/' });
    expect(store.setCameraOnvifPin(cam.id, 'urn:uuid:1234').onvifPin).toBe('urn:uuid:1234');
    expect(store.setCameraOnvifPin('pin', null).onvifPin).toBeNull();
    expect(() => store.addCamera({ name: '', url: 'rtsp://10.0.0.1/' })).toThrow(/1 to 64/);
    expect(() => store.addCamera({ name: 'a\nb', url: 'rtsp://10.0.0.1/' })).toThrow(/control/);
    expect(() => store.renameCamera('missing', 'x')).toThrow(/no such camera/);
  });
});
