// mDNS / DNS-SD browse with bonjour-service for the service types cameras and NVRs announce (the
// choice is explained in README.md). Browse only: we publish nothing. Bounded: run time, devices
// kept (the browser stops when full), TXT size; malformed packets are counted, never thrown.
import { Bonjour, type Browser, type Service } from 'bonjour-service';
import { isIP } from 'node:net';
import { DiscoveryError, isDiscoveryError, type DiscoveryErrorCode } from './errors.ts';
import { withLimits, type DiscoveryLimits } from './limits.ts';
import { sleep } from './sleep.ts';
import { decodeTxt, streamPathFromTxt, type TxtRecord } from './txt.ts';

export interface CameraServiceType {
  /** DNS-SD service name without the underscore, e.g. 'rtsp'. */
  readonly type: string;
  /** How to build a stream URI from the service: its own port, or a vendor's well-known RTSP URL. */
  readonly stream: { readonly kind: 'service-port'; readonly scheme: 'rtsp' | 'rtsps' } | { readonly kind: 'vendor'; readonly port: number; readonly path: string } | { readonly kind: 'none' };
  readonly vendor?: string;
}

/** What Vigil browses for; see README.md "mDNS service types" for why these and not others. */
export const CAMERA_SERVICE_TYPES: readonly CameraServiceType[] = [
  { type: 'rtsp', stream: { kind: 'service-port', scheme: 'rtsp' } },
  { type: 'rtsps', stream: { kind: 'service-port', scheme: 'rtsps' } },
  // Axis: the service port is the web server; VAPIX's RTSP URL is fixed.
  { type: 'axis-video', stream: { kind: 'vendor', port: 554, path: '/axis-media/media.amp' }, vendor: 'Axis' },
  { type: 'axis-nvr', stream: { kind: 'none' }, vendor: 'Axis' },
  // Cameras that announce ONVIF over DNS-SD too (thingino, some OEM firmwares): port = device service.
  { type: 'onvif', stream: { kind: 'none' } },
];

export interface MdnsFind {
  readonly serviceType: string;
  readonly instanceName: string;
  /** The SRV target, e.g. simcam-1.local. */
  readonly host: string;
  readonly port: number;
  /** IPv4/IPv6 addresses from A/AAAA records in the answer, else the sender's address. */
  readonly addresses: readonly string[];
  readonly txt: TxtRecord;
  readonly streamPath?: string;
  /** Without credentials; where the service says (or a vendor's fixed URL). */
  readonly streamUri?: string;
  /** For _onvif._tcp: the device service URL. */
  readonly onvifXaddr?: string;
  readonly vendor?: string;
  readonly at: number;
}

export interface MdnsBrowseOptions {
  readonly seconds?: number;
  /** Local IPv4 address of the interface to browse on (default: every IPv4 interface). */
  readonly interfaceAddress?: string;
  readonly types?: readonly CameraServiceType[];
  readonly limits?: Partial<DiscoveryLimits>;
  readonly signal?: AbortSignal;
  readonly onFind?: (find: MdnsFind) => void;
  /**
   * multicast-dns transport options, for tests only: e.g. `{ multicast: false, ip: '127.0.0.1',
   * port: P, bind: '127.0.0.1' }` browses over loopback unicast without joining any group.
   */
  readonly transport?: { readonly multicast?: boolean; readonly ip?: string; readonly port?: number; readonly bind?: string };
}

export interface MdnsBrowseResult {
  readonly finds: MdnsFind[];
  readonly refused: Partial<Record<DiscoveryErrorCode, number>>;
  readonly dropped: number;
  readonly socketErrors: string[];
}

const MAX_NAME = 255;

function hostFor(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** Turns one bonjour-service answer into a bounded, checked find (or throws a DiscoveryError). */
export function mdnsFindFrom(service: Service & { rawTxt?: unknown }, kind: CameraServiceType, limits: DiscoveryLimits, now = Date.now()): MdnsFind {
  const where = 'mdnsFind';
  const name = typeof service.name === 'string' ? service.name : '';
  const host = typeof service.host === 'string' ? service.host : '';
  if (name === '' || name.length > MAX_NAME || host.length > MAX_NAME) throw new DiscoveryError('bad-field', where, 'missing or oversized instance or host name');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name + host)) throw new DiscoveryError('bad-field', where, 'control characters in a name');
  const port = service.port;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new DiscoveryError('bad-field', where, 'bad port');
  const raw = Array.isArray(service.rawTxt) ? (service.rawTxt as unknown[]).filter((b): b is Uint8Array => b instanceof Uint8Array) : undefined;
  const txt = decodeTxt(raw, limits);
  const fromRecords = (service.addresses ?? []).filter((a) => typeof a === 'string' && isIP(a) !== 0);
  const referer = service.referer?.address;
  const addresses = [...new Set(fromRecords.length > 0 ? fromRecords : referer !== undefined && isIP(referer) !== 0 ? [referer] : [])].slice(0, limits.maxListItems);
  const first = addresses.find((a) => isIP(a) === 4) ?? addresses[0];
  const streamPath = streamPathFromTxt(txt);
  let streamUri: string | undefined;
  let onvifXaddr: string | undefined;
  if (first !== undefined) {
    if (kind.stream.kind === 'service-port') streamUri = `${kind.stream.scheme}://${hostFor(first)}:${port}${streamPath ?? '/'}`;
    else if (kind.stream.kind === 'vendor') streamUri = `rtsp://${hostFor(first)}:${kind.stream.port}${kind.stream.path}`;
    if (kind.type === 'onvif') onvifXaddr = `http://${hostFor(first)}:${port}${streamPathFromTxt(txt) ?? '/onvif/device_service'}`;
  }
  return {
    serviceType: `_${kind.type}._tcp`, instanceName: name, host, port, addresses, txt,
    ...(streamPath !== undefined && kind.stream.kind === 'service-port' ? { streamPath } : {}),
    ...(streamUri !== undefined ? { streamUri } : {}),
    ...(onvifXaddr !== undefined ? { onvifXaddr } : {}),
    ...(kind.vendor !== undefined ? { vendor: kind.vendor } : {}),
    at: now,
  };
}

export async function mdnsBrowse(opts: MdnsBrowseOptions = {}): Promise<MdnsBrowseResult> {
  const limits = withLimits(opts.limits);
  const seconds = opts.seconds ?? 3;
  if (!(seconds > 0 && seconds <= limits.maxSeconds)) throw new DiscoveryError('invalid-option', 'mdnsBrowse', `seconds must be in (0, ${limits.maxSeconds}]`);
  const types = opts.types ?? CAMERA_SERVICE_TYPES;
  const finds = new Map<string, MdnsFind>();
  const refused: Partial<Record<DiscoveryErrorCode, number>> = {};
  const socketErrors: string[] = [];
  let dropped = 0;
  const refuse = (code: DiscoveryErrorCode) => { refused[code] = (refused[code] ?? 0) + 1; };

  const mdnsOpts: Record<string, unknown> = { ...(opts.transport ?? {}) };
  if (opts.interfaceAddress !== undefined) {
    mdnsOpts['interface'] = opts.interfaceAddress;
    // multicast-dns binds to `interface` unless told otherwise; a socket bound to a unicast
    // address hears no multicast on Linux.
    mdnsOpts['bind'] ??= '0.0.0.0';
  }
  let bonjour: Bonjour;
  try {
    bonjour = new Bonjour(mdnsOpts, (e: unknown) => { if (socketErrors.length < 8) socketErrors.push(e instanceof Error ? e.message : String(e)); });
  } catch (e) {
    throw new DiscoveryError('socket', 'mdnsBrowse', `cannot start mDNS: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // bonjour-service leaves multicast-dns's events unhandled: an 'error' (port in use) would throw.
  const mdns = (bonjour as unknown as { server: { mdns: NodeJS.EventEmitter } }).server.mdns;
  mdns.on('error', (e: Error) => { if (socketErrors.length < 8) socketErrors.push(`mdns socket: ${e.message}`); });
  mdns.on('warning', () => refuse('malformed-record'));

  const browsers: Browser[] = [];
  const stopAll = () => { for (const b of browsers) b.stop(); };
  for (const kind of types) {
    const browser = bonjour.find({ type: kind.type, protocol: 'tcp' });
    const onService = (service: Service) => {
      try {
        const find = mdnsFindFrom(service, kind, limits);
        const key = `${find.serviceType}|${find.instanceName.toLowerCase()}`;
        if (!finds.has(key)) {
          if (finds.size >= limits.maxDevices) {
            dropped++;
            stopAll(); // a flood: stop listening rather than let the browser's own list grow
            return;
          }
          opts.onFind?.(find);
        }
        finds.set(key, find);
      } catch (e) {
        if (isDiscoveryError(e)) refuse(e.code);
        else throw e;
      }
    };
    browser.on('up', onService);
    browser.on('txt-update', onService);
    browsers.push(browser);
  }
  // multicast-dns re-joins and the browser re-queries: one more query half-way covers a lost one.
  const requery = setTimeout(() => { for (const b of browsers) b.update(); }, Math.min(1000, seconds * 500));
  try {
    await sleep(seconds * 1000, opts.signal);
  } finally {
    clearTimeout(requery);
    stopAll();
    await new Promise<void>((r) => bonjour.destroy(() => r()));
  }
  return { finds: [...finds.values()], refused, dropped, socketErrors };
}
