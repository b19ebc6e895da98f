// Discovery's sockets over loopback unicast only (no multicast, no namespace needed): a fake
// camera answers our Probe; hostile and flooding senders hit the same sockets.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { mdnsBrowse } from '../../../main/discovery/mdns.ts';
import { parseWsDiscovery } from '../../../main/discovery/ws-discovery.ts';
import { wsDiscover } from '../../../main/discovery/ws-discovery-client.ts';
import { announce, dnsResponse } from '../../support/netns/dns-response.ts';
import { HOSTILE, UUID_A, UUID_B, bye, hello, probeMatch } from './fixtures.ts';

async function udp(port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
  return s;
}
const portOf = (s: dgram.Socket) => (s.address() as AddressInfo).port;
const send = (s: dgram.Socket, msg: string | Buffer, port: number) => new Promise<void>((r) => s.send(msg, port, '127.0.0.1', () => r()));
async function freePort(): Promise<number> {
  const s = await udp();
  const p = portOf(s);
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('wsDiscover over loopback', () => {
  it('lists the device that answers our Probe; refuses hostile answers, unsolicited matches and a spoofed duplicate', async () => {
    const camera = await udp();
    const attacker = await udp();
    camera.on('message', (msg, rinfo) => {
      const text = msg.toString();
      const id = /<a:MessageID>([^<]+)</.exec(text)?.[1] ?? '';
      expect(parseWsDiscovery(msg).kind).toBe('probe');
      void send(camera, probeMatch({ relatesTo: id }), rinfo.port);
      for (const doc of Object.values(HOSTILE)) void send(attacker, doc, rinfo.port);
      void send(attacker, probeMatch({ relatesTo: 'urn:uuid:00000000-0000-0000-0000-000000000000', uuid: UUID_B }), rinfo.port);
      void send(attacker, probeMatch({ relatesTo: id, types: 'wsdp:Device prn:PrintDeviceType', uuid: UUID_B }), rinfo.port); // a printer
      void send(attacker, probeMatch({ relatesTo: id }), rinfo.port); // same endpoint from another port is the same address here
      void send(attacker, Buffer.alloc(2000, 0x41), rinfo.port);
    });
    try {
      const r = await wsDiscover({ seconds: 0.6, target: { address: '127.0.0.1', port: portOf(camera) }, listenPort: false });
      expect(r.finds).toHaveLength(1);
      expect(r.finds[0]).toMatchObject({ endpoint: `urn:uuid:${UUID_A}`, via: 'probe-match', sourceAddress: '127.0.0.1' });
      expect(r.refused.doctype).toBeGreaterThanOrEqual(Object.keys(HOSTILE).length);
      expect(r.refused['not-ws-discovery']).toBeGreaterThanOrEqual(1);
      expect(r.refused['malformed-xml']).toBeGreaterThanOrEqual(1);
    } finally {
      camera.close();
      attacker.close();
    }
  });

  it('hears Hello and Bye, and survives a flood of 10,000 Hellos with bounded devices and time', async () => {
    const port = await freePort();
    const sender = await udp();
    const t0 = Date.now();
    const run = wsDiscover({ seconds: 2.5, target: { address: '127.0.0.1', port: 9 }, listenPort: port, listenJoinGroup: false, listenAddress: '127.0.0.1', limits: { maxDevices: 50, maxDatagramsPerSecond: 3000 } });
    await new Promise((r) => setTimeout(r, 150));
    await send(sender, hello({ uuid: UUID_A }), port);
    await send(sender, hello({ uuid: UUID_B }), port);
    await send(sender, bye(UUID_B), port);
    await send(sender, Buffer.from(HOSTILE.billionLaughs), port);
    for (let i = 0; i < 10_000; i++) {
      const uuid = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
      sender.send(hello({ uuid, xaddr: `http://192.0.2.${i % 250}/onvif/device_service` }), port, '127.0.0.1');
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await run;
    sender.close();
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(r.byes).toEqual([`urn:uuid:${UUID_B}`]);
    expect(r.finds.length).toBeLessThanOrEqual(50);
    expect(r.finds.some((f) => f.endpoint === `urn:uuid:${UUID_A}` && f.via === 'hello')).toBe(true);
    expect(r.finds.some((f) => f.endpoint === `urn:uuid:${UUID_B}`)).toBe(false);
    expect(r.dropped).toBeGreaterThan(0);
    expect(r.refused.doctype).toBe(1);
  });
});

describe('mdnsBrowse over loopback unicast', () => {
  it('lists a camera with its TXT path; refuses garbage, truncated and oversized records; bounded under a flood', async () => {
    const port = await freePort();
    const sender = await udp();
    const run = mdnsBrowse({ seconds: 2.5, transport: { multicast: false, ip: '127.0.0.1', port, bind: '127.0.0.1' }, limits: { maxDevices: 20 } });
    await new Promise((r) => setTimeout(r, 200));
    await send(sender, announce({ instance: 'Porch', txt: ['path=/stream1', 'manufacturer=Acme', '__proto__=x'] }), port);
    await send(sender, Buffer.from('garbage that is not DNS'), port);
    const full = announce({ instance: 'Truncated' });
    await send(sender, full.subarray(0, full.length - 7), port);
    await send(sender, announce({ instance: 'BigTxt', address: '192.0.2.31', txt: Array.from({ length: 40 }, (_, i) => `k${i}=${'v'.repeat(200)}`) }), port);
    await send(sender, announce({ instance: 'Evil\u001b[2J', address: '192.0.2.32' }), port);
    await send(sender, dnsResponse([{ type: 'PTR', name: '_rtsp._tcp.local', target: 'NoSrv._rtsp._tcp.local' }]), port);
    const t0 = Date.now();
    for (let i = 0; i < 10_000; i++) {
      sender.send(announce({ instance: `Flood ${i}`, host: `f${i}.local`, address: `198.51.100.${i % 250}` }), port, '127.0.0.1');
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const r = await run;
    sender.close();
    expect(Date.now() - t0).toBeLessThan(6000);
    const porch = r.finds.find((f) => f.instanceName === 'Porch');
    expect(porch).toMatchObject({ serviceType: '_rtsp._tcp', port: 554, addresses: ['192.0.2.30'], streamPath: '/stream1', streamUri: 'rtsp://192.0.2.30:554/stream1' });
    expect(porch?.txt['manufacturer']).toBe('Acme');
    expect(Object.getPrototypeOf(porch?.txt)).toBe(null);
    expect(r.finds.length).toBeLessThanOrEqual(20);
    expect(r.finds.some((f) => f.instanceName === 'BigTxt' || f.instanceName.startsWith('Evil'))).toBe(false);
    expect(r.refused['malformed-record']).toBeGreaterThanOrEqual(2);
    expect(r.refused['too-large']).toBe(1);
    expect(r.dropped).toBeGreaterThan(0);
  });
});
