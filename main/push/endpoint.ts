// Which push endpoints the hub will POST to (PROTOCOL §17.3). A phone names its endpoint, so without
// a policy any phone (or anyone who stole one) could make the hub send requests into the owner's own
// network: the hub must not become a tool for reaching addresses only it can reach (SSRF). So: https
// only, no credentials in the URL, and every address the name resolves to must be a public one,
// checked again when the hub connects (the checked address is the one it connects to, so a name
// that resolves to a public address at subscribe time and a private one later is still refused).
// Tests (and nothing else) may allow plain http to a loopback address: `allowHttpLoopback`.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { MAX_PUSH_ENDPOINT_CHARS } from '../../crypto/push-prefs.ts';

export interface EndpointPolicy {
  /** Allows http://127.x.x.x or http://[::1] endpoints: for a push service the tests run on loopback. */
  readonly allowHttpLoopback?: boolean;
}

export class EndpointRefused extends Error {
  override readonly name = 'EndpointRefused';
}

// Everything that is not the public Internet: RFC 6890's special-purpose registries, in short.
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(ip);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

export function isPublicAddress(ip: string): boolean {
  const f = family(ip);
  return f !== undefined && !NOT_PUBLIC.check(ip, f);
}

export function isLoopbackAddress(ip: string): boolean {
  const f = family(ip);
  return f !== undefined && LOOPBACK.check(ip, f);
}

/** Names that are local by definition, refused before any lookup. */
const LOCAL_NAMES = /(^|\.)(localhost|local|lan|home|internal|intranet|corp|home\.arpa|localdomain)\.?$/i;

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** The endpoint as a URL if the policy allows it (before any lookup); else EndpointRefused, naming no token. */
export function checkEndpoint(endpoint: string, policy: EndpointPolicy): URL {
  if (endpoint.length > MAX_PUSH_ENDPOINT_CHARS) throw new EndpointRefused('the endpoint is too long');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EndpointRefused('the endpoint is not a URL');
  }
  if (url.username !== '' || url.password !== '') throw new EndpointRefused('the endpoint may not carry credentials');
  if (url.hash !== '') throw new EndpointRefused('the endpoint may not have a fragment');
  const host = hostOf(url);
  if (url.protocol === 'http:') {
    if (policy.allowHttpLoopback === true && isLoopbackAddress(host)) return url;
    throw new EndpointRefused('the endpoint must be https');
  }
  if (url.protocol !== 'https:') throw new EndpointRefused('the endpoint must be https');
  if (family(host) !== undefined) {
    if (!isPublicAddress(host) && !(policy.allowHttpLoopback === true && isLoopbackAddress(host))) throw new EndpointRefused('the endpoint is not a public address');
    return url;
  }
  if (!host.includes('.') || LOCAL_NAMES.test(host)) throw new EndpointRefused('the endpoint is not a public host name');
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that resolves the name and hands the socket only public addresses
 * (loopback too under the test allowance); a name with none fails the request.
 */
export function guardedLookup(policy: EndpointPolicy): (hostname: string, options: object, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const ok = addresses.filter((a) => isPublicAddress(a.address) || (policy.allowHttpLoopback === true && isLoopbackAddress(a.address)));
      if (ok.length === 0 || ok.length !== addresses.length) {
        return callback(Object.assign(new Error('the push endpoint resolves to an address that is not public'), { code: 'EPUSHADDRESS' }), '');
      }
      const all = (options as { all?: boolean }).all === true;
      if (all) return callback(null, ok);
      callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}
