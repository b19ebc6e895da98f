// One discovery run: mDNS and ONVIF WS-Discovery side by side for the same time, merged into one
// list. This is the entry the CLI and the hub use; the parts are in mdns.ts, ws-discovery*.ts,
// merge.ts. Nothing here adds a camera or sends credentials.
import type { DiscoveryErrorCode } from './errors.ts';
import type { DiscoveryLimits } from './limits.ts';
import { mdnsBrowse, type MdnsBrowseOptions } from './mdns.ts';
import { mergeFinds, type DiscoveredDevice } from './merge.ts';
import { wsDiscover, type WsDiscoveryOptions } from './ws-discovery-client.ts';

export interface DiscoverOptions {
  readonly seconds?: number;
  readonly interfaceAddress?: string;
  readonly mdns?: boolean | Omit<MdnsBrowseOptions, 'seconds' | 'signal' | 'limits'>;
  readonly onvif?: boolean | Omit<WsDiscoveryOptions, 'seconds' | 'signal' | 'limits'>;
  readonly limits?: Partial<DiscoveryLimits>;
  readonly signal?: AbortSignal;
}

export interface DiscoveryReport {
  readonly devices: DiscoveredDevice[];
  readonly warnings: string[];
  /** Inputs refused, by source and reason: a hostile LAN shows up here, not as a crash. */
  readonly refused: { readonly mdns: Partial<Record<DiscoveryErrorCode, number>>; readonly onvif: Partial<Record<DiscoveryErrorCode, number>> };
  readonly dropped: number;
  readonly socketErrors: string[];
  readonly startedAt: number;
  readonly seconds: number;
}

export async function discover(opts: DiscoverOptions = {}): Promise<DiscoveryReport> {
  const seconds = opts.seconds ?? 3;
  const startedAt = Date.now();
  const common = { seconds, ...(opts.limits ? { limits: opts.limits } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.interfaceAddress ? { interfaceAddress: opts.interfaceAddress } : {}) };
  const mdnsOpts = typeof opts.mdns === 'object' ? opts.mdns : {};
  const onvifOpts = typeof opts.onvif === 'object' ? opts.onvif : {};
  const [m, o] = await Promise.all([
    opts.mdns === false ? undefined : mdnsBrowse({ ...common, ...mdnsOpts }),
    opts.onvif === false ? undefined : wsDiscover({ ...common, ...onvifOpts }),
  ]);
  const merged = mergeFinds(o?.finds ?? [], m?.finds ?? []);
  return {
    devices: merged.devices,
    warnings: [...(o?.warnings ?? []), ...merged.warnings],
    refused: { mdns: m?.refused ?? {}, onvif: o?.refused ?? {} },
    dropped: (m?.dropped ?? 0) + (o?.dropped ?? 0),
    socketErrors: [...(m?.socketErrors ?? []), ...(o?.socketErrors ?? [])],
    startedAt,
    seconds,
  };
}
