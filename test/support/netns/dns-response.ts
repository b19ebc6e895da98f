// A minimal DNS response encoder (RFC 1035, no name compression) for feeding hand-made mDNS
// announcements, including broken ones, to the browser over loopback unicast.
export type Rr =
  | { type: 'PTR'; name: string; target: string; ttl?: number }
  | { type: 'SRV'; name: string; target: string; port: number; ttl?: number }
  | { type: 'TXT'; name: string; strings: (string | Uint8Array)[]; ttl?: number }
  | { type: 'A'; name: string; address: string; ttl?: number };

const TYPES = { A: 1, PTR: 12, TXT: 16, SRV: 33 } as const;

function name(n: string): Buffer {
  const parts = n.replace(/\.$/, '').split('.').map((l) => { const b = Buffer.from(l); return Buffer.concat([Buffer.from([b.length]), b]); });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function rdata(rr: Rr): Buffer {
  switch (rr.type) {
    case 'PTR': return name(rr.target);
    case 'SRV': { const h = Buffer.alloc(6); h.writeUInt16BE(0, 0); h.writeUInt16BE(0, 2); h.writeUInt16BE(rr.port, 4); return Buffer.concat([h, name(rr.target)]); }
    case 'TXT': return Buffer.concat(rr.strings.map((s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length]), b]); }));
    case 'A': return Buffer.from(rr.address.split('.').map(Number));
  }
}

export function dnsResponse(answers: Rr[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8400, 2); // response, authoritative
  header.writeUInt16BE(answers.length, 6);
  const body = answers.map((rr) => {
    const d = rdata(rr);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(TYPES[rr.type], 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(rr.ttl ?? 120, 4);
    fixed.writeUInt16BE(d.length, 8);
    return Buffer.concat([name(rr.name), fixed, d]);
  });
  return Buffer.concat([header, ...body]);
}

/** A full announcement of one service instance: PTR, SRV, TXT and A. */
export function announce(o: { instance: string; type?: string; host?: string; port?: number; address?: string; txt?: (string | Uint8Array)[] }): Buffer {
  const type = `${o.type ?? '_rtsp._tcp'}.local`;
  const fqdn = `${o.instance}.${type}`;
  const host = o.host ?? 'cam.local';
  return dnsResponse([
    { type: 'PTR', name: type, target: fqdn },
    { type: 'SRV', name: fqdn, target: host, port: o.port ?? 554 },
    { type: 'TXT', name: fqdn, strings: o.txt ?? ['path=/stream1'] },
    { type: 'A', name: host, address: o.address ?? '192.0.2.30' },
  ]);
}
