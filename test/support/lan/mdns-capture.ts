// Run inside a test namespace: records every mDNS packet seen on the LAN for a while and prints them
// (base64, one JSON line), so a test can check what the hub tells strangers on the LAN. It asks what
// any stranger may ask: who offers `_vigil._tcp`, then each answer's TXT and SRV records.
import { createSocket } from 'node:dgram';

const seconds = Number(process.argv[2] ?? 5);
const packets: string[] = [];
const asked = new Set<string>();
const sock = createSocket({ type: 'udp4', reuseAddr: true });

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function query(name: string, type: number): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), encodeName(name), Buffer.from([0, type, 0, 1])]);
}

/** Reads a (possibly compressed) DNS name; bounded against loops. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let jumps = 0; jumps < 20 && pos < buf.length; ) {
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      jumps++;
      continue;
    }
    labels.push(buf.subarray(pos + 1, pos + 1 + len).toString());
    pos += 1 + len;
  }
  return { name: labels.join('.'), next: next < 0 ? buf.length : next };
}

/** Instance names in PTR answers for _vigil._tcp.local. */
function instances(buf: Buffer): string[] {
  const out: string[] = [];
  try {
    const qd = buf.readUInt16BE(4);
    const an = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
    let pos = 12;
    for (let i = 0; i < qd; i++) pos = readName(buf, pos).next + 4;
    for (let i = 0; i < an && pos < buf.length; i++) {
      const { name, next } = readName(buf, pos);
      const type = buf.readUInt16BE(next);
      const rdlen = buf.readUInt16BE(next + 8);
      if (type === 12 && name.toLowerCase() === '_vigil._tcp.local') out.push(readName(buf, next + 10).name);
      pos = next + 10 + rdlen;
    }
  } catch {
    // a packet we cannot read is still recorded
  }
  return out;
}

sock.on('message', (msg) => {
  if (packets.length < 2000) packets.push(msg.toString('base64'));
  for (const instance of instances(msg)) {
    if (asked.has(instance)) continue;
    asked.add(instance);
    sock.send(query(instance, 16), 5353, '224.0.0.251');
    sock.send(query(instance, 33), 5353, '224.0.0.251');
  }
});
sock.bind(5353, () => {
  sock.addMembership('224.0.0.251');
  sock.setMulticastTTL(1);
  console.log(JSON.stringify({ event: 'ready' }));
  sock.send(query('_vigil._tcp.local', 12), 5353, '224.0.0.251');
  setTimeout(() => sock.send(query('_vigil._tcp.local', 12), 5353, '224.0.0.251'), 1000);
});
setTimeout(() => {
  console.log(JSON.stringify({ packets }));
  sock.close();
  process.exit(0);
}, seconds * 1000);
