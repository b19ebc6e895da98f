// Every input from the LAN that discovery refuses is a DiscoveryError with a stable code, so a
// caller can count and report refusals ("3 datagrams refused: doctype") without parsing messages.
// Messages never echo the refused bytes: they may be large or hostile.

export type DiscoveryErrorCode =
  | 'too-large' // a datagram, document or record is over its size bound
  | 'doctype' // an XML document carries a DTD or entity declaration (XXE, billion laughs)
  | 'malformed-xml' // not well-formed XML (garbage, truncated)
  | 'malformed-record' // an mDNS packet that does not decode (garbage, truncated)
  | 'not-ws-discovery' // well-formed XML that is not a WS-Discovery message we understand
  | 'bad-field' // a field is missing, too long or has characters it must not have
  | 'socket' // a socket could not be opened or bound
  | 'invalid-option'; // the caller gave an option out of range

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  readonly code: DiscoveryErrorCode;
  /** Where it happened, e.g. `parseWsDiscovery`; never the refused input. */
  readonly where: string;

  constructor(code: DiscoveryErrorCode, where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: ${detail}`, options);
    this.code = code;
    this.where = where;
  }
}

export function isDiscoveryError(e: unknown, code?: DiscoveryErrorCode): e is DiscoveryError {
  return e instanceof DiscoveryError && (code === undefined || e.code === code);
}
