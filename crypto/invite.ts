// The invite a hub shows as a QR code. It names the hub (id and the two public keys a phone needs to
// start Noise IKpsk2), a single-use invite id, the 256-bit secret that becomes the handshake PSK, the
// relays to reach the hub through, and an expiry. The X-Wing key (1,216 bytes) is not in it: it
// would make the QR too dense, and it arrives inside the handshake, signed by the hub.
import { fromBase64url, toBase64url, equalBytes } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { DH_BYTES, ID_BYTES, SIGN_PUBLIC_BYTES, hubIdFor, type HubIdentity } from './identity.ts';
import { PROTOCOL_VERSION } from './labels.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const INVITE_SECRET_BYTES = 32;
export const MAX_INVITE_RELAYS = 4;
export const MAX_RELAY_URL_BYTES = 200;
/** Longest link we parse: bounds the cost of any string handed to us by a camera or clipboard. */
export const MAX_INVITE_LINK_CHARS = 1400;
export const INVITE_LINK_PREFIX = 'vigil://pair/';
const FRAGMENT_KEY = 'pair=';

export interface Invite {
  readonly version: number;
  readonly hubId: Uint8Array;
  readonly hubSigningKey: Uint8Array;
  readonly hubExchangeKey: Uint8Array;
  readonly inviteId: Uint8Array;
  readonly secret: Secret;
  readonly relays: readonly string[];
  /** Unix seconds. */
  readonly expiresAt: number;
}

export function newInvite(hub: HubIdentity, opts: { relays: readonly string[]; now: number; ttlSeconds: number }): Invite {
  if (!(opts.ttlSeconds > 0 && opts.ttlSeconds <= 3600)) throw new RangeError('invite lifetime must be 1 s to 1 h');
  const relays = opts.relays.map((u) => checkRelayUrl(u, 'newInvite'));
  if (relays.length > MAX_INVITE_RELAYS) throw new RangeError(`at most ${MAX_INVITE_RELAYS} relays`);
  return {
    version: PROTOCOL_VERSION,
    hubId: hub.hubId,
    hubSigningKey: hub.signing.publicKey,
    hubExchangeKey: hub.exchange.publicKey,
    inviteId: sodium().randombytes_buf(ID_BYTES),
    secret: new Secret(sodium().randombytes_buf(INVITE_SECRET_BYTES), 'invite secret'),
    relays,
    expiresAt: Math.floor(opts.now) + Math.floor(opts.ttlSeconds),
  };
}

export function encodeInvite(invite: Invite): Uint8Array {
  const w = new Writer()
    .u8(invite.version)
    .fixed(invite.hubId, ID_BYTES)
    .fixed(invite.hubSigningKey, SIGN_PUBLIC_BYTES)
    .fixed(invite.hubExchangeKey, DH_BYTES)
    .fixed(invite.inviteId, ID_BYTES)
    .fixed(invite.secret.expose(), INVITE_SECRET_BYTES)
    .u64(BigInt(invite.expiresAt))
    .u8(invite.relays.length);
  for (const url of invite.relays) w.text16(url);
  return w.finish();
}

export function decodeInvite(bytes: Uint8Array): Invite {
  const where = 'decodeInvite';
  const r = new Reader(bytes, where);
  const version = r.u8('version');
  // No fallback to other versions: an unknown one is refused, never guessed at.
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `invite version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const hubSigningKey = r.fixed(SIGN_PUBLIC_BYTES, 'hubSigningKey');
  const hubExchangeKey = r.fixed(DH_BYTES, 'hubExchangeKey');
  const inviteId = r.fixed(ID_BYTES, 'inviteId');
  const secret = new Secret(r.fixed(INVITE_SECRET_BYTES, 'secret'), 'invite secret');
  const expires = r.u64('expiresAt');
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, 'expiry out of range');
  const count = r.u8('relayCount');
  if (count > MAX_INVITE_RELAYS) throw malformed(where, `${count} relays, limit ${MAX_INVITE_RELAYS}`);
  const relays: string[] = [];
  for (let i = 0; i < count; i++) relays.push(checkRelayUrl(r.text16('relay', MAX_RELAY_URL_BYTES), where));
  r.end();
  // The hub id is a hash of the signing key; a QR whose two disagree was not made by a hub.
  if (!equalBytes(hubIdFor(hubSigningKey), hubId)) throw malformed(where, 'hub id does not match hub key');
  return { version, hubId, hubSigningKey, hubExchangeKey, inviteId, secret, relays, expiresAt: Number(expires) };
}

/** A relay URL an invite (or a restore invite) may carry: ws: or wss:, no credentials, bounded; else `malformed`. */
export function checkRelayUrl(url: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw malformed(where, 'relay is not a URL');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw malformed(where, 'relay URL must be ws: or wss:');
  if (parsed.username || parsed.password) throw malformed(where, 'relay URL must not carry credentials');
  if (new TextEncoder().encode(url).length > MAX_RELAY_URL_BYTES) throw malformed(where, 'relay URL too long');
  return url;
}

/**
 * The link a QR carries: `vigil://pair/<base64url>`, or, when the phone app's address is given,
 * `<appUrl>#pair=<base64url>` so a phone camera opens the app directly. The invite sits in the
 * fragment, which browsers never send to the server that hosts the app.
 */
export function formatInviteLink(invite: Invite, appUrl?: string): string {
  const payload = toBase64url(encodeInvite(invite));
  if (appUrl === undefined) return INVITE_LINK_PREFIX + payload;
  return `${appUrl.split('#')[0]}#${FRAGMENT_KEY}${payload}`;
}

/** Parses a scanned or pasted link. Any other string gives a CryptoError, never another throw. */
export function parseInviteLink(text: string): Invite {
  const where = 'parseInviteLink';
  if (typeof text !== 'string') throw malformed(where, 'not a string');
  const trimmed = text.trim();
  if (trimmed.length > MAX_INVITE_LINK_CHARS) throw malformed(where, 'link too long');
  let payload: string | undefined;
  if (trimmed.startsWith(INVITE_LINK_PREFIX)) {
    payload = trimmed.slice(INVITE_LINK_PREFIX.length);
  } else {
    const hash = trimmed.indexOf('#');
    if (hash >= 0 && trimmed.slice(hash + 1).startsWith(FRAGMENT_KEY) && /^https?:\/\//.test(trimmed)) {
      payload = trimmed.slice(hash + 1 + FRAGMENT_KEY.length);
    }
  }
  if (payload === undefined) throw malformed(where, 'not a Vigil pairing link');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(payload);
  } catch {
    throw malformed(where, 'pairing link payload is not base64url');
  }
  return decodeInvite(bytes);
}

export function isInviteExpired(invite: Pick<Invite, 'expiresAt'>, now: number): boolean {
  return now >= invite.expiresAt;
}
