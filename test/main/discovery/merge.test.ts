import { describe, expect, it } from 'vitest';
import type { MdnsFind } from '../../../main/discovery/mdns.ts';
import { deviceId, mergeFinds } from '../../../main/discovery/merge.ts';
import { checkPins, decodePin, encodePin } from '../../../main/discovery/pins.ts';
import type { OnvifFind } from '../../../main/discovery/ws-discovery-client.ts';
import { UUID_A, UUID_B } from './fixtures.ts';

const onvif = (uuid: string, host: string): OnvifFind => ({
  endpoint: `urn:uuid:${uuid}`, types: ['NetworkVideoTransmitter'], scopes: [], xaddrs: [`http://${host}:10101/onvif/device_service`],
  metadataVersion: 1, name: 'PREDATOR', hardware: 'HD PREDATOR', sourceAddress: host, via: 'probe-match', at: 0,
});
const mdns = (name: string, address: string, type = '_rtsp._tcp'): MdnsFind => ({
  serviceType: type, instanceName: name, host: 'cam.local', port: 8554, addresses: [address], txt: { path: '/cam' },
  streamPath: '/cam', streamUri: `rtsp://${address}:8554/cam`, at: 0,
});

describe('mergeFinds', () => {
  it('a device found by ONVIF and by mDNS is one device, via both, with a stable id', () => {
    const { devices, warnings } = mergeFinds([onvif(UUID_A, '192.0.2.10')], [mdns('Front Door', '192.0.2.10')]);
    expect(warnings).toEqual([]);
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ id: deviceId(`urn:uuid:${UUID_A}`), name: 'Front Door', via: ['mdns', 'onvif'], streamUri: 'rtsp://192.0.2.10:8554/cam', addresses: ['192.0.2.10'] });
  });

  it('two mDNS services of one host are one device; other hosts stay apart; ids repeat across runs', () => {
    const a = mergeFinds([], [mdns('Cam', '192.0.2.11'), mdns('Cam web', '192.0.2.11', '_axis-video._tcp'), mdns('Other', '192.0.2.12')]);
    expect(a.devices.map((d) => [d.identity, d.via.join('+'), d.mdns?.length])).toEqual([['address:192.0.2.11', 'mdns', 2], ['address:192.0.2.12', 'mdns', 1]]);
    expect(mergeFinds([], [mdns('Cam', '192.0.2.11')]).devices[0]!.id).toBe(a.devices[0]!.id);
  });

  it('two ONVIF identities at one address are two devices and a warning', () => {
    const { devices, warnings } = mergeFinds([onvif(UUID_A, '192.0.2.10'), onvif(UUID_B, '192.0.2.10')], []);
    expect(devices).toHaveLength(2);
    expect(warnings[0]).toMatch(/claimed by ONVIF endpoints/);
  });
});

describe('pins', () => {
  const pinned = { name: 'Front', url: 'rtsp://192.0.2.10:8554/cam', onvifPin: encodePin({ endpoint: `urn:uuid:${UUID_A}`, serial: 'M/X/1', xaddr: 'http://192.0.2.10:10101/onvif/device_service' }) };

  it('round-trips and ignores foreign column contents', () => {
    expect(decodePin(pinned.onvifPin)).toMatchObject({ v: 1, endpoint: `urn:uuid:${UUID_A}`, serial: 'M/X/1' });
    expect(decodePin('something else')).toBe(null);
    expect(decodePin(null)).toBe(null);
  });

  it('a spoofed announcement at a pinned camera\'s address is a warning; the same device is not', () => {
    const spoof = mergeFinds([onvif(UUID_B, '192.0.2.10')], []).devices;
    const w = checkPins([pinned], spoof);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ camera: 'Front', kind: 'identity-changed' });
    expect(w[0]!.message).toMatch(/pinned to urn:uuid:c9790c3a.*the camera is unchanged/);
    expect(checkPins([pinned], mergeFinds([onvif(UUID_A, '192.0.2.10')], []).devices)).toEqual([]);
    expect(checkPins([pinned], mergeFinds([onvif(UUID_A, '192.0.2.99')], []).devices)[0]?.kind).toBe('moved');
  });
});
