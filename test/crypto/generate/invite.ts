// Builds the invite known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/invite.json; test/crypto/kat-invite.test.ts checks the code against that file.
import { concat, fromHex, toBase64url, toHex, u16be } from '../../../crypto/bytes.ts';
import { hubIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { encodeInvite, formatInviteLink, type Invite } from '../../../crypto/invite.ts';
import { invitePsk } from '../../../crypto/pairing.ts';
import { Secret } from '../../../crypto/secret.ts';
import { CAST, seq, type Expect } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil invite (QR link) known-answer vectors, docs/PROTOCOL.md section 2. For each vector parse link (parseInviteLink); the ' +
  'result must be expect. For success, the parsed invite must equal invite (hex bytes, expiresAt in Unix seconds), encode to ' +
  'bytes, format back to link (trimmed; with appUrl when given), and its secret must give psk = KDF(secret, "vigil v1 invite psk", 32). ' +
  'Keys come from the seeds in test/crypto/kat-support.ts CAST.hub.';

interface InviteFields {
  version: number;
  hubId: string;
  hubSigningKey: string;
  hubExchangeKey: string;
  inviteId: string;
  secret: string;
  expiresAt: number;
  relays: string[];
}

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  /** What the phone scanned or was pasted. */
  link: string;
  /** The decoded payload of the link, when it is base64url (hex). */
  bytes?: string;
  /** For app links: the phone app's address the link was formatted with. */
  appUrl?: string;
  /** success only: the invite, and psk = KDF(secret, "vigil v1 invite psk", 32). */
  invite?: InviteFields;
  psk?: string;
}

export function fields(i: Invite): InviteFields {
  return {
    version: i.version, hubId: toHex(i.hubId), hubSigningKey: toHex(i.hubSigningKey), hubExchangeKey: toHex(i.hubExchangeKey),
    inviteId: toHex(i.inviteId), secret: toHex(i.secret.expose()), expiresAt: i.expiresAt, relays: [...i.relays],
  };
}

export function buildVectors(): Vector[] {
  const hub = hubIdentityFromSeeds(CAST.hub);
  const base: Invite = {
    version: 1, hubId: hub.hubId, hubSigningKey: hub.signing.publicKey, hubExchangeKey: hub.exchange.publicKey,
    inviteId: seq(16, 0xa0), secret: new Secret(seq(32, 0xb0), 'invite secret'), relays: ['wss://relay.example/v1'], expiresAt: 1_800_000_600,
  };
  const v: Vector[] = [];
  const good = (name: string, comment: string, invite: Invite, appUrl?: string, decorate = (s: string) => s) => {
    const bytes = encodeInvite(invite);
    v.push({
      name, comment, expect: 'success', link: decorate(formatInviteLink(invite, appUrl)), bytes: toHex(bytes),
      ...(appUrl === undefined ? {} : { appUrl }), invite: fields(invite), psk: toHex(invitePsk(invite.secret)),
    });
  };
  const bad = (name: string, comment: string, expectCode: Expect, bytes: Uint8Array) =>
    v.push({ name, comment, expect: expectCode, link: 'vigil://pair/' + toBase64url(bytes), bytes: toHex(bytes) });
  const badText = (name: string, comment: string, expectCode: Expect, link: string) => v.push({ name, comment, expect: expectCode, link });

  good('one-relay', 'vigil:// link, one wss relay', base);
  good('no-relays', 'no relay: LAN only; the 138-byte minimum', { ...base, relays: [] });
  good('four-relays', 'the largest relay count, ws and wss, ports and paths', {
    ...base, relays: ['ws://192.168.1.2:8787/v1', 'wss://a.example/v1', 'wss://b.example:8443/relay/v1', 'ws://[::1]:1/'],
  });
  good('app-link', 'the https app form: the invite sits in the fragment', base, 'https://app.vigil.example/phone/');
  good('app-link-http', 'the http app form (a hub on the LAN serving the app)', base, 'http://192.168.1.2:8080/');
  good('whitespace', 'surrounding whitespace is trimmed', base, undefined, (s) => `  ${s}\n`);
  good('largest-expiry', 'expiresAt 2^53-1, the largest accepted', { ...base, expiresAt: Number.MAX_SAFE_INTEGER });

  const b = encodeInvite(base);
  bad('version-0', 'version byte 0', 'unsupported', concat(Uint8Array.of(0), b.subarray(1)));
  bad('version-2', 'version byte 2: refused, no fallback to 1', 'unsupported', concat(Uint8Array.of(2), b.subarray(1)));
  bad('hub-id-mismatch', 'hub id is not H("vigil v1 hub id", 16, hubSigningKey): not made by a hub', 'malformed',
    encodeInvite({ ...base, hubId: seq(16, 0x99) }));
  bad('trailing-byte', 'one byte after the last relay', 'malformed', concat(b, Uint8Array.of(0)));
  bad('truncated', 'cut inside the last relay URL', 'malformed', b.subarray(0, b.length - 1));
  bad('truncated-fixed', 'cut inside the fixed fields (137 bytes)', 'malformed', b.subarray(0, 137));
  bad('empty-payload-version-only', 'just the version byte', 'malformed', b.subarray(0, 1));
  bad('five-relays', 'relayCount 5, over the limit of 4', 'malformed',
    encodeInvite({ ...base, relays: ['wss://a.example/', 'wss://b.example/', 'wss://c.example/', 'wss://d.example/', 'wss://e.example/'] }));
  bad('http-relay', 'a relay URL that is not ws: or wss:', 'malformed', encodeInvite({ ...base, relays: ['https://relay.example/v1'] }));
  bad('credentials-in-relay', 'a relay URL with user:password@', 'malformed', encodeInvite({ ...base, relays: ['wss://user:pw@relay.example/v1'] }));
  bad('username-in-relay', 'a relay URL with a user name only', 'malformed', encodeInvite({ ...base, relays: ['wss://user@relay.example/v1'] }));
  bad('relay-not-url', 'a relay that is not a URL', 'malformed', encodeInvite({ ...base, relays: ['relay.example:443'] }));
  bad('relay-too-long', 'a 201-byte relay URL', 'malformed', encodeInvite({ ...base, relays: ['wss://r.example/' + 'a'.repeat(201 - 16)] }));
  const prefix = b.subarray(0, 1 + 16 + 32 + 32 + 16 + 32 + 8);
  bad('relay-not-utf8', 'a relay whose bytes are not UTF-8', 'malformed', concat(prefix, Uint8Array.of(1), u16be(3), Uint8Array.of(0xff, 0xfe, 0xfd)));
  bad('expiry-2^53', 'expiresAt 2^53, past the largest safe integer', 'malformed',
    concat(b.subarray(0, 129), fromHex('0020000000000000'), b.subarray(137)));

  const payload = toBase64url(b);
  badText('padding', 'base64url with = padding', 'malformed', 'vigil://pair/' + payload + '='.repeat((4 - (payload.length % 4)) % 4 || 2));
  badText('standard-alphabet', 'standard base64 (+ and /) instead of base64url', 'malformed',
    'vigil://pair/' + payload.replace(/-/g, '+').replace(/_/g, '/') + (payload.includes('-') || payload.includes('_') ? '' : '+'));
  badText('non-canonical-bits', 'a 163-byte invite whose last character sets bits past the end of the data', 'malformed',
    nonCanonical(toBase64url(encodeInvite({ ...base, relays: ['wss://relay.example/v12'] }))));
  badText('bad-character', 'a character outside base64url', 'malformed', 'vigil://pair/' + payload.slice(0, 10) + '!' + payload.slice(11));
  badText('wrong-scheme', 'another scheme', 'malformed', 'vigil://pairing/' + payload);
  badText('app-link-no-fragment-key', 'an app link whose fragment is not pair=', 'malformed', 'https://app.vigil.example/#invite=' + payload);
  badText('app-link-ftp', 'a fragment link on a scheme other than http(s)', 'malformed', 'ftp://app.vigil.example/#pair=' + payload);
  badText('empty', 'the empty string', 'malformed', '');
  badText('prefix-only', 'the prefix and nothing else', 'malformed', 'vigil://pair/');
  badText('too-long', '1401 characters', 'malformed', 'vigil://pair/' + 'A'.repeat(1401 - 13));
  return v;
}

/** The link with the lowest bit of its last character set: a padding bit, so the same bytes decode. */
function nonCanonical(payload: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (payload.length % 4 === 0) throw new Error('payload length has no spare bits; pick another invite');
  const last = alphabet.indexOf(payload[payload.length - 1] ?? 'A');
  return 'vigil://pair/' + payload.slice(0, -1) + alphabet[last ^ 1];
}
