// The substream for motion detection (PROTOCOL §17.1): which profile is the substream, and what the
// hub asks the ONVIF device mock for over real HTTP on loopback (no discovery socket): the pinned
// identity is checked first, the owner's credentials go only to the camera's own host, whatever
// credentials the device wrote into the URI are dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePin } from '../../../main/discovery/pins.ts';
import { pickSubstream, resolveSubstream } from '../../../main/events/substream.ts';
import type { MediaProfile } from '../../../main/onvif/client.ts';
import { OnvifError } from '../../../main/onvif/errors.ts';
import { openStore, type Store } from '../../../main/store/db.ts';
import { startLoopbackOnvifMock, type LoopbackOnvifMock } from '../../support/onvif/mock.ts';
import { closedPort } from '../../support/ports.ts';
import { tempDir } from '../../support/system.ts';

const p = (token: string, width?: number, height?: number, encoding?: string): MediaProfile => ({ token, name: token, hasPtz: false, ...(width ? { width } : {}), ...(height ? { height } : {}), ...(encoding ? { encoding } : {}) });

describe('pickSubstream', () => {
  it('takes the lowest-resolution H.264/H.265 profile when some profile is larger', () => {
    expect(pickSubstream([p('main', 1920, 1080, 'H264'), p('sub', 640, 360, 'H264'), p('third', 1280, 720, 'H265')])?.token).toBe('sub');
    expect(pickSubstream([p('main', 1920, 1080, 'H264'), p('mjpeg', 320, 240, 'JPEG'), p('sub', 704, 576)])?.token).toBe('sub');
  });

  it('none for one stream, equal sizes, or unknown sizes', () => {
    expect(pickSubstream([p('main', 1920, 1080, 'H264')])).toBeUndefined();
    expect(pickSubstream([p('a', 1920, 1080), p('b', 1920, 1080)])).toBeUndefined();
    expect(pickSubstream([p('a'), p('b', 640, 360)])).toBeUndefined();
    expect(pickSubstream([])).toBeUndefined();
  });
});

describe('resolveSubstream against the ONVIF mock', () => {
  let store: Store;
  const mocks: LoopbackOnvifMock[] = [];
  const serial = 'Mockup Manufacturer/Mockup Model/00000000';

  beforeAll(() => {
    store = openStore(tempDir());
  });
  afterAll(async () => {
    await Promise.all(mocks.map((m) => m.stop()));
    store?.close();
  });

  async function camera(name: string, subUri: string, pinSerial = serial): Promise<{ id: string; mock: LoopbackOnvifMock }> {
    const mock = await startLoopbackOnvifMock({ port: await closedPort(), profiles: [{ token: 'main', width: 1920, height: 1080, uri: 'rtsp://127.0.0.1:8554/main' }, { token: 'sub', width: 640, height: 360, uri: subUri }] });
    mocks.push(mock);
    const cam = store.addCamera({ name, url: 'rtsp://admin:s%40cret@127.0.0.1:8554/main' });
    store.setCameraOnvifPin(cam.id, encodePin({ serial: pinSerial, xaddr: mock.xaddr }));
    return { id: cam.id, mock };
  }

  it('the lowest profile\'s URI, with the owner\'s credentials in place of the device\'s', async () => {
    const { id } = await camera('one', 'rtsp://devuser:devpass@127.0.0.1:8554/sub?x=1');
    const sub = await resolveSubstream(store, id);
    expect(sub).toEqual({ token: 'sub', width: 640, height: 360, url: 'rtsp://admin:s%40cret@127.0.0.1:8554/sub?x=1' });
  }, 30_000);

  it('refuses a substream on another host (the password would go there) and a device that is not the pinned one', async () => {
    const other = await camera('two', 'rtsp://127.0.0.2:8554/sub');
    const e1 = await resolveSubstream(store, other.id).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OnvifError);
    expect((e1 as OnvifError).code).toBe('bad-reply');
    expect((e1 as OnvifError).message).toMatch(/substream at 127\.0\.0\.2, not at the camera's 127\.0\.0\.1/);
    expect((e1 as OnvifError).message).not.toMatch(/s%40cret|s@cret/);

    const swapped = await camera('three', 'rtsp://127.0.0.1:8554/sub', 'Other/Model/1');
    const e2 = await resolveSubstream(store, swapped.id).catch((e: unknown) => e);
    expect((e2 as OnvifError).code).toBe('identity-changed');
    expect((await swapped.mock.stats()).GetStreamUri).toBe(0);
  }, 30_000);
});
