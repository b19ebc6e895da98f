// ONVIF WS-Discovery on the wire: send a Probe (multicast 239.255.255.250:3702, TTL 1, twice in
// case one is lost), collect the ProbeMatches that answer our MessageID, and meanwhile listen on
// 3702 for Hello/Bye. Bounded: datagram size, datagrams per second, devices kept, run time.
// Nothing here sends credentials or connects to a device: found devices are only listed.
import dgram from 'node:dgram';
import { unreachable } from '../../lib/unreachable.ts';
import { DiscoveryError, isDiscoveryError, type DiscoveryErrorCode } from './errors.ts';
import { sleep } from './sleep.ts';
import { withLimits, type DiscoveryLimits } from './limits.ts';
import { buildProbe, isVideoDevice, newMessageId, parseWsDiscovery, WSD_MULTICAST_ADDRESS, WSD_PORT, type WsdEndpoint } from './ws-discovery.ts';

export interface WsDiscoveryOptions {
  /** How long to collect answers (default 3 s; at most limits.maxSeconds). */
  readonly seconds?: number;
  /** Local IPv4 address of the interface to probe and listen on (default: the OS's choice). */
  readonly interfaceAddress?: string;
  /** Where Probes go (default the WS-Discovery group). Tests aim this at a loopback port. */
  readonly target?: { readonly address: string; readonly port: number };
  /** Port to hear Hello/Bye on (default 3702, joined to the group); false: do not listen. */
  readonly listenPort?: number | false;
  /** Join the WS-Discovery group on the listen socket (default true). Tests listen on loopback unicast instead. */
  readonly listenJoinGroup?: boolean;
  /** Address the listen socket binds to (default all; only without the group, e.g. 127.0.0.1 in tests). */
  readonly listenAddress?: string;
  readonly limits?: Partial<DiscoveryLimits>;
  readonly signal?: AbortSignal;
  /** Called as each new device is found (the result lists them too). */
  readonly onFind?: (find: OnvifFind) => void;
}

export interface OnvifFind extends WsdEndpoint {
  /** The IP address the datagram came from. */
  readonly sourceAddress: string;
  readonly via: 'probe-match' | 'hello';
  readonly at: number;
}

export interface WsDiscoveryResult {
  readonly finds: OnvifFind[];
  /** Endpoints that said Bye during the run (removed from finds). */
  readonly byes: string[];
  /** Datagrams refused, by reason. */
  readonly refused: Partial<Record<DiscoveryErrorCode, number>>;
  /** Datagrams dropped unread (over the rate) and devices dropped (over maxDevices). */
  readonly dropped: number;
  /** Conflicts worth showing the owner, e.g. one endpoint claimed from two addresses. */
  readonly warnings: string[];
  /** Sockets that could not be opened (e.g. 3702 in use): discovery ran without them. */
  readonly socketErrors: string[];
}

/** Bytes-per-datagram is checked by size before parsing; this caps how much is parsed per second. */
class RateGate {
  #windowStart = 0;
  #count = 0;
  constructor(private readonly perSecond: number) {}
  allow(now: number): boolean {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    return ++this.#count <= this.perSecond;
  }
}

export async function wsDiscover(opts: WsDiscoveryOptions = {}): Promise<WsDiscoveryResult> {
  const limits = withLimits(opts.limits);
  const seconds = opts.seconds ?? 3;
  if (!(seconds > 0 && seconds <= limits.maxSeconds)) throw new DiscoveryError('invalid-option', 'wsDiscover', `seconds must be in (0, ${limits.maxSeconds}]`);
  const target = opts.target ?? { address: WSD_MULTICAST_ADDRESS, port: WSD_PORT };
  const messageIds = new Set<string>();
  const finds = new Map<string, OnvifFind>();
  const byes: string[] = [];
  const refused: Partial<Record<DiscoveryErrorCode, number>> = {};
  const warnings: string[] = [];
  const socketErrors: string[] = [];
  let dropped = 0;
  const gate = new RateGate(limits.maxDatagramsPerSecond);

  const refuse = (code: DiscoveryErrorCode) => { refused[code] = (refused[code] ?? 0) + 1; };
  const add = (d: WsdEndpoint, sourceAddress: string, via: OnvifFind['via']) => {
    if (!isVideoDevice(d)) return;
    const known = finds.get(d.endpoint);
    if (known !== undefined) {
      if (known.sourceAddress !== sourceAddress && warnings.length < limits.maxListItems) {
        warnings.push(`ONVIF endpoint ${d.endpoint} answered from ${known.sourceAddress} and from ${sourceAddress}; keeping the first`);
      }
      return;
    }
    if (finds.size >= limits.maxDevices) {
      dropped++;
      return;
    }
    const find: OnvifFind = { ...d, sourceAddress, via, at: Date.now() };
    finds.set(d.endpoint, find);
    opts.onFind?.(find);
  };
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (!gate.allow(Date.now())) {
      dropped++;
      return;
    }
    if (msg.byteLength > limits.maxDatagramBytes) {
      refuse('too-large');
      return;
    }
    let m;
    try {
      m = parseWsDiscovery(msg, limits);
    } catch (e) {
      if (isDiscoveryError(e)) {
        refuse(e.code);
        return;
      }
      throw e;
    }
    switch (m.kind) {
      case 'probe-matches':
        // Only answers to our Probes: an unsolicited ProbeMatch is someone else's or a spoof.
        if (m.relatesTo === null || !messageIds.has(m.relatesTo)) {
          refuse('not-ws-discovery');
          return;
        }
        for (const d of m.matches) add(d, rinfo.address, 'probe-match');
        return;
      case 'hello':
        add(m.device, rinfo.address, 'hello');
        return;
      case 'bye':
        if (finds.delete(m.endpoint)) byes.push(m.endpoint);
        return;
      case 'probe':
        return;
      default:
        return unreachable(m);
    }
  };

  const sockets: dgram.Socket[] = [];
  const open = async (port: number, join: boolean, bindAddress?: string): Promise<dgram.Socket | undefined> => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: port !== 0 });
    s.on('message', onMessage);
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, bindAddress, () => {
          s.off('error', reject);
          resolve();
        });
      });
      if (join) s.addMembership(WSD_MULTICAST_ADDRESS, opts.interfaceAddress);
      s.on('error', (e) => { if (socketErrors.length < 8) socketErrors.push(`udp ${port}: ${e.message}`); });
      sockets.push(s);
      return s;
    } catch (e) {
      socketErrors.push(`udp ${port}${join ? ` (group ${WSD_MULTICAST_ADDRESS})` : ''}: ${e instanceof Error ? e.message : String(e)}`);
      s.close();
      return undefined;
    }
  };

  try {
    const probeSocket = await open(0, false, opts.interfaceAddress);
    if (probeSocket === undefined) throw new DiscoveryError('socket', 'wsDiscover', `cannot open a UDP socket: ${socketErrors.join('; ')}`);
    if (opts.listenPort !== false) {
      const join = opts.listenJoinGroup !== false;
      await open(opts.listenPort ?? WSD_PORT, join, join ? undefined : opts.listenAddress);
    }
    try {
      probeSocket.setMulticastTTL(1); // WS-Discovery is link-local: never routed beyond the LAN
      if (opts.interfaceAddress !== undefined) probeSocket.setMulticastInterface(opts.interfaceAddress);
    } catch (e) {
      socketErrors.push(`multicast options: ${e instanceof Error ? e.message : String(e)}`);
    }
    const send = () => {
      const id = newMessageId();
      messageIds.add(id);
      probeSocket.send(buildProbe(id), target.port, target.address, (e) => {
        if (e && socketErrors.length < 8) socketErrors.push(`probe to ${target.address}:${target.port}: ${e.message}`);
      });
    };
    send();
    const repeat = setTimeout(send, Math.min(250, seconds * 250));
    await sleep(seconds * 1000, opts.signal);
    clearTimeout(repeat);
  } finally {
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  return { finds: [...finds.values()], byes, refused, dropped, warnings, socketErrors };
}
