// Run inside a test namespace: records every mDNS packet seen on the LAN and prints them (base64, one
// JSON line), so a test can check what the hub tells strangers on the LAN. It asks what any stranger
// may ask: who offers `_vigil._tcp`, then each instance's TXT and SRV records; and it says whether
// each question got an answer (`answered`), told apart from the hub's unasked announcements by its
// shape: an answer holds only the records asked for (with, for PTR, the SRV and TXT as additional
// records, RFC 6763 §12.1), an announcement holds all of them. It stops once all three were answered,
// or after the given number of seconds.
import { createSocket } from 'node:dgram';

const seconds = Number(process.argv[2] ?? 5);
const packets: string[] = [];
const asked = new Set<string>();
const answered = { ptr: false, txt: false, srv: false };
const SERVICE = '_vigil._tcp.local';
const PTR = 12;
const TXT = 16;
const SRV = 33;
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

interface Rr {
  section: 'answer' | 'authority' | 'additional';
  name: string;
  type: number;
  /** The name a PTR record points to. */
  target?: string;
}

/** The records of a response (none for a query or a packet we cannot read). */
function records(buf: Buffer): Rr[] {
  const out: Rr[] = [];
  try {
    if ((buf.readUInt16BE(2) & 0x8000) === 0) return out; // a query
    const qd = buf.readUInt16BE(4);
    const counts: [Rr['section'], number][] = [['answer', buf.readUInt16BE(6)], ['authority', buf.readUInt16BE(8)], ['additional', buf.readUInt16BE(10)]];
    let pos = 12;
    for (let i = 0; i < qd; i++) pos = readName(buf, pos).next + 4;
    for (const [section, n] of counts) {
      for (let i = 0; i < n && pos < buf.length; i++) {
        const { name, next } = readName(buf, pos);
        const type = buf.readUInt16BE(next);
        const rdlen = buf.readUInt16BE(next + 8);
        out.push({ section, name: name.toLowerCase(), type, ...(type === PTR ? { target: readName(buf, next + 10).name } : {}) });
        pos = next + 10 + rdlen;
      }
    }
  } catch {
    // a packet we cannot read is still recorded
  }
  return out;
}

/** Which of our questions this response answers, and the instances it names. */
function examine(rrs: Rr[]): string[] {
  const answers = rrs.filter((r) => r.section === 'answer');
  const instances = answers.filter((r) => r.type === PTR && r.name === SERVICE).map((r) => r.target!);
  const only = (type: number) => answers.length > 0 && answers.every((r) => r.type === type);
  if (only(PTR) && instances.length > 0 && rrs.some((r) => r.section === 'additional' && r.type === TXT)) answered.ptr = true;
  if (only(TXT) && answers.some((r) => asked.has(r.name))) answered.txt = true;
  if (only(SRV) && answers.some((r) => asked.has(r.name))) answered.srv = true;
  return instances;
}

function finish(): void {
  console.log(JSON.stringify({ packets, answered }));
  sock.close();
  process.exit(0);
}

sock.on('message', (msg) => {
  if (packets.length < 2000) packets.push(msg.toString('base64'));
  for (const instance of examine(records(msg))) {
    if (asked.has(instance.toLowerCase())) continue;
    asked.add(instance.toLowerCase());
    sock.send(query(instance, TXT), 5353, '224.0.0.251');
    sock.send(query(instance, SRV), 5353, '224.0.0.251');
  }
  if (answered.ptr && answered.txt && answered.srv) finish();
});
sock.bind(5353, () => {
  sock.addMembership('224.0.0.251');
  sock.setMulticastTTL(1);
  console.log(JSON.stringify({ event: 'ready' }));
  // Asked once: a responder that hears questions answers at once (mDNS loses nothing on a cable).
  sock.send(query(SERVICE, PTR), 5353, '224.0.0.251');
});
setTimeout(finish, seconds * 1000);
