// N simulated ONVIF cameras answering WS-Discovery, for `npm run bench:discovery`. Run it only inside
// a network namespace the bench created (it joins 239.255.255.250 on 3702):
//   node --import tsx bench/lib/discovery-responder.ts --count N [--jitter-ms J] [--run-seconds S]
//
// One process, N devices, each as a real camera behaves on the wire: its own UDP socket bound to
// 0.0.0.0:3702 with SO_REUSEADDR and joined to the group (so the kernel hands every device its own
// copy of each multicast Probe), and its own unicast address (127.0.1.i on the namespace's lo) from
// which it sends one ProbeMatch with a distinct endpoint UUID, name scope and XAddr, RelatesTo the
// Probe's MessageID. WS-Discovery (§ 3.1.3, APP_MAX_DELAY) has a device wait a random 0..500 ms
// before answering a multicast Probe; --jitter-ms sets that bound (0: answer at once). There is no
// HTTP behind the XAddrs: discovery never connects to a device.
// Prints {"event":"ready",...} once every socket is bound; stops on SIGTERM/SIGINT or after --run-seconds.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const GROUP = '239.255.255.250';
const PORT = 3702;
const MAX_DEVICES = 250;

const { values } = parseArgs({ options: { count: { type: 'string' }, 'jitter-ms': { type: 'string' }, 'run-seconds': { type: 'string' } } });
const count = Number(values.count ?? '1');
const jitterMs = Number(values['jitter-ms'] ?? '0');
const runSeconds = Number(values['run-seconds'] ?? '60');
if (!Number.isInteger(count) || count < 1 || count > MAX_DEVICES) throw new Error(`--count must be 1..${MAX_DEVICES}`);
if (!(jitterMs >= 0 && jitterMs <= 5000)) throw new Error('--jitter-ms must be 0..5000');
if (!(runSeconds > 0 && runSeconds <= 600)) throw new Error('--run-seconds must be in (0, 600]');

interface SimDevice {
  readonly index: number;
  readonly address: string;
  readonly uuid: string;
  readonly xaddr: string;
}

function simDevice(index: number): SimDevice {
  const address = `127.0.1.${index + 1}`;
  return {
    index, address,
    uuid: `5a1d0000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
    xaddr: `http://${address}:8080/onvif/device_service`,
  };
}

function probeMatch(d: SimDevice, relatesTo: string, messageNumber: number): Buffer {
  return Buffer.from('<?xml version="1.0" encoding="UTF-8"?>' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">' +
    '<SOAP-ENV:Header>' +
    `<wsa:MessageID>urn:uuid:${d.uuid.slice(0, 24)}${(messageNumber % 0xffffffffffff).toString(16).padStart(12, '0')}</wsa:MessageID>` +
    `<wsa:RelatesTo>${relatesTo}</wsa:RelatesTo>` +
    '<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>' +
    '<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>' +
    `<wsdd:AppSequence MessageNumber="${messageNumber}" InstanceId="1"></wsdd:AppSequence>` +
    '</SOAP-ENV:Header><SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch>' +
    `<wsa:EndpointReference><wsa:Address>urn:uuid:${d.uuid}</wsa:Address></wsa:EndpointReference>` +
    '<wsdd:Types>dn:NetworkVideoTransmitter tds:Device</wsdd:Types>' +
    '<wsdd:Scopes>onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/ptz ' +
    `onvif://www.onvif.org/hardware/SIM-${d.index} onvif://www.onvif.org/name/SimCam_${d.index} onvif://www.onvif.org/location/</wsdd:Scopes>` +
    `<wsdd:XAddrs>${d.xaddr}</wsdd:XAddrs>` +
    '<wsdd:MetadataVersion>1</wsdd:MetadataVersion>' +
    '</wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>');
}

/** The MessageID of a Probe (and nothing else: ProbeMatches, Hello and Bye are ignored). */
function probeMessageId(msg: Buffer): string | undefined {
  if (msg.byteLength > 8192) return undefined;
  const text = msg.toString('utf8');
  if (!/<(?:\w+:)?Probe[\s>]/.test(text)) return undefined;
  const m = /<(?:\w+:)?MessageID>\s*(urn:uuid:[0-9a-fA-F-]{36})\s*</.exec(text);
  return m?.[1];
}

const bindSocket = (s: dgram.Socket, port: number, address?: string) => new Promise<void>((resolve, reject) => {
  s.once('error', reject);
  s.bind(port, address, () => { s.off('error', reject); resolve(); });
});

const sockets: dgram.Socket[] = [];
const timers = new Set<NodeJS.Timeout>();
let answered = 0;
let sent = 0;

for (let i = 0; i < count; i++) {
  const d = simDevice(i);
  const reply = dgram.createSocket('udp4');
  await bindSocket(reply, 0, d.address);
  const listen = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await bindSocket(listen, PORT);
  listen.addMembership(GROUP);
  let messageNumber = 0;
  listen.on('message', (msg, rinfo) => {
    const id = probeMessageId(msg);
    if (id === undefined) return;
    answered++;
    const answer = probeMatch(d, id, ++messageNumber);
    const go = () => reply.send(answer, rinfo.port, rinfo.address, (e) => { if (!e) sent++; });
    if (jitterMs === 0) return go();
    const t = setTimeout(() => { timers.delete(t); go(); }, Math.random() * jitterMs);
    timers.add(t);
  });
  reply.on('error', () => { /* a closed peer: nothing to do */ });
  listen.on('error', () => { /* ditto */ });
  sockets.push(listen, reply);
}

console.log(JSON.stringify({ event: 'ready', count, jitterMs, first: simDevice(0), last: simDevice(count - 1) }));

const stop = () => {
  for (const t of timers) clearTimeout(t);
  for (const s of sockets) s.close();
  console.log(JSON.stringify({ event: 'stopped', probesAnswered: answered, matchesSent: sent }));
  process.exit(0);
};
setTimeout(stop, runSeconds * 1000).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
