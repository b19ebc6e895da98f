// Every bound discovery applies, in one place, finite by default (see README "Limits").

export interface DiscoveryLimits {
  /** Largest WS-Discovery datagram or XML document parsed, in bytes. */
  readonly maxDatagramBytes: number;
  /** Most XML elements in one document (a ProbeMatch has about 20). */
  readonly maxXmlElements: number;
  /** Deepest element nesting accepted. */
  readonly maxXmlDepth: number;
  /** Most devices kept per discovery run, per source (mDNS, ONVIF); later ones are counted and dropped. */
  readonly maxDevices: number;
  /** Largest TXT record set of one mDNS service, in bytes. */
  readonly maxTxtBytes: number;
  /** Most TXT entries kept per service. */
  readonly maxTxtEntries: number;
  /** Longest text kept for a name, scope, address or TXT value. */
  readonly maxFieldChars: number;
  /** Most XAddrs, scopes, types or addresses kept per device. */
  readonly maxListItems: number;
  /** Most datagrams handled per second on one socket; the rest are dropped unread (flood). */
  readonly maxDatagramsPerSecond: number;
  /** Longest a discovery run may last, in seconds. */
  readonly maxSeconds: number;
}

export const DEFAULT_LIMITS: DiscoveryLimits = Object.freeze({
  maxDatagramBytes: 64 * 1024,
  maxXmlElements: 2000,
  maxXmlDepth: 32,
  maxDevices: 256,
  maxTxtBytes: 2048,
  maxTxtEntries: 32,
  maxFieldChars: 512,
  maxListItems: 16,
  maxDatagramsPerSecond: 2000,
  maxSeconds: 60,
});

export function withLimits(partial: Partial<DiscoveryLimits> | undefined): DiscoveryLimits {
  const l = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`discovery limit ${k} must be a positive finite number`);
  }
  return l;
}
