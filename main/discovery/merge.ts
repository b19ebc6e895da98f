// One list from two sources: a device found by ONVIF and by mDNS is one device. Identity is the
// ONVIF endpoint UUID when there is one, else the address. The id shown to the owner is a short
// hash of that identity, so it is the same in every run (`vigil camera add --from-discovery ID`).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { MdnsFind } from './mdns.ts';
import type { OnvifFind } from './ws-discovery-client.ts';

export type Via = 'mdns' | 'onvif';

export interface DiscoveredDevice {
  /** 12 hex characters: sha256(identity), stable across runs. */
  readonly id: string;
  /** `urn:uuid:…` (ONVIF endpoint) or `address:198.18.77.1`. Only a claim: the LAN is untrusted. */
  readonly identity: string;
  readonly name: string;
  readonly addresses: readonly string[];
  readonly via: readonly Via[];
  /** Without credentials; from mDNS TXT/port. ONVIF's own URI is only known after adding (it needs credentials). */
  readonly streamUri?: string;
  readonly onvif?: {
    readonly endpoint: string;
    readonly xaddrs: readonly string[];
    readonly scopes: readonly string[];
    readonly types: readonly string[];
    readonly hardware: string | null;
  };
  readonly mdns?: readonly { readonly serviceType: string; readonly instanceName: string; readonly host: string; readonly port: number; readonly txt: Readonly<Record<string, string>> }[];
  readonly vendor?: string;
  readonly model?: string;
}

export function deviceId(identity: string): string {
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}

function xaddrHosts(xaddrs: readonly string[]): string[] {
  const out: string[] = [];
  for (const x of xaddrs) {
    try {
      const h = new URL(x).hostname.replace(/^\[|\]$/g, '');
      if (isIP(h) !== 0) out.push(h);
    } catch {
      // parse-checked already
    }
  }
  return out;
}

interface Draft {
  identity: string;
  name: string | null;
  addresses: string[];
  via: Set<Via>;
  streamUri?: string;
  onvif?: DiscoveredDevice['onvif'];
  mdns: NonNullable<DiscoveredDevice['mdns']>[number][];
  vendor?: string;
  model?: string;
}

export interface MergeResult {
  readonly devices: DiscoveredDevice[];
  readonly warnings: string[];
}

/** Merges finds; `warnings` says when two ONVIF identities claim one address. */
export function mergeFinds(onvif: readonly OnvifFind[], mdns: readonly MdnsFind[]): MergeResult {
  const drafts: Draft[] = [];
  const byAddress = new Map<string, Draft>();
  const warnings: string[] = [];
  for (const f of onvif) {
    const addresses = [...new Set([...xaddrHosts(f.xaddrs), f.sourceAddress])];
    const d: Draft = {
      identity: f.endpoint, name: f.name, addresses, via: new Set(['onvif']), mdns: [],
      onvif: { endpoint: f.endpoint, xaddrs: f.xaddrs, scopes: f.scopes, types: f.types, hardware: f.hardware },
      ...(f.hardware !== null ? { model: f.hardware } : {}),
    };
    drafts.push(d);
    for (const a of addresses) {
      const other = byAddress.get(a);
      if (other !== undefined) warnings.push(`address ${a} is claimed by ONVIF endpoints ${other.identity} and ${d.identity}`);
      else byAddress.set(a, d);
    }
  }
  for (const f of mdns) {
    let d = f.addresses.map((a) => byAddress.get(a)).find((x) => x !== undefined);
    if (d === undefined) {
      const primary = f.addresses.find((a) => isIP(a) === 4) ?? f.addresses[0] ?? `${f.host}`;
      d = { identity: `address:${primary}`, name: null, addresses: [], via: new Set(), mdns: [] };
      drafts.push(d);
    }
    d.via.add('mdns');
    for (const a of f.addresses) {
      if (!d.addresses.includes(a)) d.addresses.push(a);
      if (!byAddress.has(a)) byAddress.set(a, d);
    }
    d.mdns.push({ serviceType: f.serviceType, instanceName: f.instanceName, host: f.host, port: f.port, txt: f.txt });
    // A name someone typed into the camera beats a name from ONVIF scopes.
    if (d.name === null || !d.via.has('onvif') || d.mdns.length === 1) d.name = f.instanceName;
    // Prefer the RTSP service's own URI over a vendor's well-known one.
    if (f.streamUri !== undefined && (d.streamUri === undefined || f.streamPath !== undefined)) d.streamUri = f.streamUri;
    const manufacturer = f.txt['manufacturer'] ?? f.txt['vendor'] ?? f.vendor;
    if (manufacturer !== undefined) d.vendor ??= manufacturer;
    if (f.txt['model'] !== undefined) d.model ??= f.txt['model'];
  }
  const devices = drafts.map((d): DiscoveredDevice => ({
    id: deviceId(d.identity),
    identity: d.identity,
    name: d.name ?? d.onvif?.hardware ?? d.addresses[0] ?? d.identity,
    addresses: d.addresses,
    via: (['mdns', 'onvif'] as const).filter((v) => d.via.has(v)),
    ...(d.streamUri !== undefined ? { streamUri: d.streamUri } : {}),
    ...(d.onvif !== undefined ? { onvif: d.onvif } : {}),
    ...(d.mdns.length > 0 ? { mdns: d.mdns } : {}),
    ...(d.vendor !== undefined ? { vendor: d.vendor } : {}),
    ...(d.model !== undefined ? { model: d.model } : {}),
  }));
  return { devices, warnings };
}
