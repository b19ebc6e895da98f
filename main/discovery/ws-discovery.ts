// WS-Discovery (the 2005/04 dialect ONVIF uses) messages: the Probe we send, and the ProbeMatches,
// Hello and Bye we read. Pure: no sockets here (ws-discovery-client.ts has them).
// Everything read is untrusted: fields are bounded and checked; an endpoint is only a claim.
import { randomUUID } from 'node:crypto';
import { DiscoveryError } from './errors.ts';
import { DEFAULT_LIMITS, type DiscoveryLimits } from './limits.ts';
import { child, children, parseSafeXml, textOf, type XmlValue } from './xml.ts';

export const WSD_MULTICAST_ADDRESS = '239.255.255.250';
export const WSD_PORT = 3702;
export const NS_SOAP = 'http://www.w3.org/2003/05/soap-envelope';
export const NS_ADDRESSING = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';
export const NS_DISCOVERY = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
export const NS_ONVIF_NETWORK = 'http://www.onvif.org/ver10/network/wsdl';
export const ACTION_PROBE = `${NS_DISCOVERY}/Probe`;
/** The device type ONVIF cameras (and encoders) announce. */
export const TYPE_NVT = 'NetworkVideoTransmitter';

/** One device as a ProbeMatch or Hello describes it. */
export interface WsdEndpoint {
  /** `urn:uuid:…` lower-case (a bare `uuid:…` is normalised), or another URI the device gave. */
  readonly endpoint: string;
  /** Local names of the Types, e.g. ['NetworkVideoTransmitter', 'Device']. */
  readonly types: readonly string[];
  readonly scopes: readonly string[];
  /** http(s) device service URLs only; anything else is dropped. */
  readonly xaddrs: readonly string[];
  readonly metadataVersion: number | null;
  /** From the scopes `onvif://www.onvif.org/name/…` and `/hardware/…`, percent-decoded. */
  readonly name: string | null;
  readonly hardware: string | null;
}

export type WsdMessage =
  | { readonly kind: 'probe-matches'; readonly relatesTo: string | null; readonly matches: readonly WsdEndpoint[] }
  | { readonly kind: 'hello'; readonly device: WsdEndpoint }
  | { readonly kind: 'bye'; readonly endpoint: string }
  | { readonly kind: 'probe' }; // someone else's Probe (or our own, looped back): not for us

export function newMessageId(): string {
  return `urn:uuid:${randomUUID()}`;
}

/** A Probe for ONVIF NetworkVideoTransmitters, on one line (SOAP-over-UDP peers are picky). */
export function buildProbe(messageId: string): string {
  if (!/^urn:uuid:[0-9a-f-]{36}$/.test(messageId)) throw new DiscoveryError('invalid-option', 'buildProbe', 'message id must be urn:uuid:…');
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${NS_SOAP}" xmlns:a="${NS_ADDRESSING}" xmlns:d="${NS_DISCOVERY}" xmlns:dn="${NS_ONVIF_NETWORK}">` +
    '<s:Header>' +
    `<a:Action s:mustUnderstand="1">${ACTION_PROBE}</a:Action>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<a:ReplyTo><a:Address>${NS_ADDRESSING}/role/anonymous</a:Address></a:ReplyTo>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
    '</s:Header>' +
    `<s:Body><d:Probe><d:Types>dn:${TYPE_NVT}</d:Types></d:Probe></s:Body>` +
    '</s:Envelope>';
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function field(v: XmlValue | undefined, what: string, limits: DiscoveryLimits, where: string): string | undefined {
  const t = textOf(v)?.trim();
  if (t === undefined || t === '') return undefined;
  if (t.length > limits.maxFieldChars) throw new DiscoveryError('bad-field', where, `${what} longer than ${limits.maxFieldChars} characters`);
  if (CONTROL.test(t)) throw new DiscoveryError('bad-field', where, `${what} contains control characters`);
  return t;
}

function list(v: XmlValue | undefined, what: string, limits: DiscoveryLimits, where: string): string[] {
  const t = textOf(v);
  if (t === undefined) return [];
  if (t.length > limits.maxFieldChars * limits.maxListItems) throw new DiscoveryError('bad-field', where, `${what} list too long`);
  return t.split(/\s+/).filter((s) => s !== '' && s.length <= limits.maxFieldChars && !CONTROL.test(s)).slice(0, limits.maxListItems);
}

/** `uuid:X` and `urn:uuid:X` are the same endpoint; UUIDs compare case-insensitively. */
export function normaliseEndpoint(raw: string): string {
  const m = /^(?:urn:)?uuid:([0-9a-fA-F-]{32,36})$/.exec(raw.trim());
  return m ? `urn:uuid:${m[1]!.toLowerCase()}` : raw.trim();
}

function scopeValue(scopes: readonly string[], kind: string): string | null {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const s = scopes.find((x) => x.toLowerCase().startsWith(prefix));
  if (s === undefined) return null;
  let v = s.slice(prefix.length);
  try {
    v = decodeURIComponent(v);
  } catch {
    // keep it as written
  }
  v = v.replace(/_/g, ' ').trim();
  return v === '' || CONTROL.test(v) ? null : v.slice(0, 64);
}

function httpUrls(items: readonly string[]): string[] {
  return items.filter((x) => {
    try {
      const u = new URL(x);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  });
}

function endpointOf(node: XmlValue | undefined, limits: DiscoveryLimits, where: string): WsdEndpoint {
  const address = field(child(child(node, 'EndpointReference'), 'Address'), 'endpoint address', limits, where);
  if (address === undefined) throw new DiscoveryError('bad-field', where, 'no EndpointReference/Address');
  const types = list(child(node, 'Types'), 'Types', limits, where).map((t) => t.slice(t.lastIndexOf(':') + 1));
  const scopes = list(child(node, 'Scopes'), 'Scopes', limits, where);
  const xaddrs = httpUrls(list(child(node, 'XAddrs'), 'XAddrs', limits, where));
  const mv = field(child(node, 'MetadataVersion'), 'MetadataVersion', limits, where);
  const metadataVersion = mv !== undefined && /^\d{1,10}$/.test(mv) ? Number(mv) : null;
  return {
    endpoint: normaliseEndpoint(address), types, scopes, xaddrs, metadataVersion,
    name: scopeValue(scopes, 'name'), hardware: scopeValue(scopes, 'hardware'),
  };
}

/** Whether a device says it is a camera (or encoder) rather than a printer or a PC. */
export function isVideoDevice(d: WsdEndpoint): boolean {
  return d.types.includes(TYPE_NVT);
}

/**
 * Reads one WS-Discovery datagram. Throws a DiscoveryError (too-large, doctype, malformed-xml,
 * not-ws-discovery, bad-field); never anything else.
 */
export function parseWsDiscovery(datagram: Uint8Array | string, limits: DiscoveryLimits = DEFAULT_LIMITS): WsdMessage {
  const where = 'parseWsDiscovery';
  const doc = parseSafeXml(datagram, limits, where);
  const envelope = doc['Envelope'];
  const body = child(envelope, 'Body');
  if (envelope === undefined || body === undefined || typeof body === 'string') throw new DiscoveryError('not-ws-discovery', where, 'not a SOAP envelope with a body');
  const header = child(envelope, 'Header');
  const pm = child(body, 'ProbeMatches');
  if (pm !== undefined) {
    const relatesTo = field(child(header, 'RelatesTo'), 'RelatesTo', limits, where) ?? null;
    const items = children(pm, 'ProbeMatch');
    if (items.length > limits.maxListItems) throw new DiscoveryError('too-large', where, `more than ${limits.maxListItems} ProbeMatch entries`);
    return { kind: 'probe-matches', relatesTo, matches: items.map((m) => endpointOf(m, limits, where)) };
  }
  const hello = child(body, 'Hello');
  if (hello !== undefined) return { kind: 'hello', device: endpointOf(hello, limits, where) };
  const bye = child(body, 'Bye');
  if (bye !== undefined) {
    const address = field(child(child(bye, 'EndpointReference'), 'Address'), 'endpoint address', limits, where);
    if (address === undefined) throw new DiscoveryError('bad-field', where, 'Bye without EndpointReference/Address');
    return { kind: 'bye', endpoint: normaliseEndpoint(address) };
  }
  if (child(body, 'Probe') !== undefined) return { kind: 'probe' };
  throw new DiscoveryError('not-ws-discovery', where, 'body is not a ProbeMatches, Hello, Bye or Probe');
}
