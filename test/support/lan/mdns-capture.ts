// Run inside a test namespace: records every mDNS packet seen on the LAN for a while and prints them
// (base64, one JSON line), so a test can check what the hub tells strangers on the LAN.
import { createSocket } from 'node:dgram';

const seconds = Number(process.argv[2] ?? 5);
const packets: string[] = [];
const sock = createSocket({ type: 'udp4', reuseAddr: true });
sock.on('message', (msg) => {
  if (packets.length < 2000) packets.push(msg.toString('base64'));
});
/** A plain mDNS question "who offers _vigil._tcp.local?", so announcers answer while we listen. */
function query(): Buffer {
  const labels = ['_vigil', '_tcp', 'local'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 12, 0, 1])]);
}

sock.bind(5353, () => {
  sock.addMembership('224.0.0.251');
  sock.setMulticastTTL(1);
  console.log(JSON.stringify({ event: 'ready' }));
  sock.send(query(), 5353, '224.0.0.251');
  setTimeout(() => sock.send(query(), 5353, '224.0.0.251'), 1000);
});
setTimeout(() => {
  console.log(JSON.stringify({ packets }));
  sock.close();
  process.exit(0);
}, seconds * 1000);
