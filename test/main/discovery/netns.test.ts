// Discovery against real peers inside a private network namespace: avahi-daemon advertising a
// camera, and the ONVIF device mock answering WS-Discovery. `vigil discover` runs in the same
// namespace (test/support/netns/entry.ts). Multicast never leaves the namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avahiAvailable, startAvahi } from '../../support/netns/avahi.ts';
import { Netns, netnsSupport } from '../../support/netns/netns.ts';
import { startOnvifMock } from '../../support/onvif/mock.ts';
import { installHint } from '../../support/packages.ts';

const support = netnsSupport();
const reason = !support.ok ? support.reason : !avahiAvailable() ? `avahi-daemon is not installed (${installHint('bin:avahi-daemon')})` : undefined;
if (reason !== undefined) console.warn(`[skip] discovery namespace tests: ${reason}`);

describe.skipIf(reason !== undefined)('discovery in a network namespace', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = Netns.create('disc');
    await startAvahi(ns, [{ name: 'SimCam Front Door', type: '_rtsp._tcp', port: 8554, txt: ['path=/cam', 'manufacturer=SimCam', 'model=SC-1080'] }]);
  });
  afterAll(async () => { await ns?.destroy(); });

  const discoverJson = async () => {
    const r = await ns.runTs('test/support/netns/entry.ts', ['discover', '--seconds', '2', '--json'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    return { devices: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr: r.stderr };
  };

  it('finds the camera avahi advertises, with the stream path from its TXT record', async () => {
    const { devices, stderr } = await discoverJson();
    expect(devices, stderr).toHaveLength(1);
    expect(devices[0]).toMatchObject({ name: 'SimCam Front Door', via: ['mdns'], streamUri: 'rtsp://127.0.0.1:8554/cam', vendor: 'SimCam' });
    expect(devices[0]!['addresses']).toContain('127.0.0.1');
    expect(devices[0]!['id']).toMatch(/^[0-9a-f]{12}$/);
  });

  it('with the ONVIF mock at the same address too: one device, found both ways', async () => {
    const mock = await startOnvifMock(ns);
    const { devices, stderr } = await discoverJson();
    expect(devices, stderr).toHaveLength(1);
    expect(devices[0]).toMatchObject({
      name: 'SimCam Front Door', via: ['mdns', 'onvif'], streamUri: 'rtsp://127.0.0.1:8554/cam', identity: mock.endpoint,
      onvif: { endpoint: mock.endpoint, xaddrs: [mock.xaddr] },
    });
    // Listing sent no credentials and no SOAP request: the mock saw only Probes.
    expect(mock.output()).not.toMatch(/received /);
  });

  it('prints a line per device for people', async () => {
    const r = await ns.runTs('test/support/netns/entry.ts', ['discover', '--seconds', '1.5'], { timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/^[0-9a-f]{12}\tSimCam Front Door\t127\.0\.0\.1[^\t]*\tmdns\+onvif\trtsp:\/\/127\.0\.0\.1:8554\/cam$/m);
    expect(r.stderr).toMatch(/found 1 device in 1\.5 s/);
  });
});
