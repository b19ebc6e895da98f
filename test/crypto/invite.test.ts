import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { cryptoReady } from '../../crypto/sodium.ts';
import { newHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import {
  decodeInvite, encodeInvite, formatInviteLink, isInviteExpired, newInvite, parseInviteLink,
  MAX_INVITE_LINK_CHARS,
} from '../../crypto/invite.ts';
import { CryptoError, isCryptoError } from '../../crypto/errors.ts';
import { toBase64url, toHex } from '../../crypto/bytes.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

describe('invite', () => {
  it('round-trips through the vigil:// link and the app link', () => {
    const invite = newInvite(hub, { relays: ['ws://127.0.0.1:8787/v1', 'wss://relay.example/v1'], now: 1000, ttlSeconds: 600 });
    for (const link of [formatInviteLink(invite), formatInviteLink(invite, 'https://app.example/')]) {
      const back = parseInviteLink(link);
      expect(toHex(back.hubId)).toBe(toHex(hub.hubId));
      expect(toHex(back.hubExchangeKey)).toBe(toHex(hub.exchange.publicKey));
      expect(toHex(back.inviteId)).toBe(toHex(invite.inviteId));
      expect(toHex(back.secret.expose())).toBe(toHex(invite.secret.expose()));
      expect(back.relays).toEqual(invite.relays);
      expect(back.expiresAt).toBe(1600);
    }
    // Small enough for a QR code a phone reads at arm's length.
    expect(formatInviteLink(invite).length).toBeLessThan(300);
  });

  it('expires', () => {
    const invite = newInvite(hub, { relays: [], now: 1000, ttlSeconds: 300 });
    expect(isInviteExpired(invite, 1299)).toBe(false);
    expect(isInviteExpired(invite, 1300)).toBe(true);
  });

  it('refuses strings that are not invites with a typed error', () => {
    const invite = newInvite(hub, { relays: ['ws://127.0.0.1:1/v1'], now: 0, ttlSeconds: 60 });
    const good = encodeInvite(invite);
    const cases: [string, string][] = [
      ['', 'malformed'],
      ['https://evil.example/', 'malformed'],
      ['vigil://pair/', 'malformed'],
      ['vigil://pair/!!!', 'malformed'],
      ['vigil://pair/' + toBase64url(good) + '=', 'malformed'],
      ['vigil://pair/' + toBase64url(good.subarray(0, good.length - 1)), 'malformed'],
      ['vigil://pair/' + toBase64url(Uint8Array.from([...good, 0])), 'malformed'],
      ['vigil://pair/' + toBase64url(Uint8Array.from([2, ...good.subarray(1)])), 'unsupported'],
      ['vigil://pair/' + 'A'.repeat(MAX_INVITE_LINK_CHARS), 'malformed'],
    ];
    for (const [text, code] of cases) {
      expect(() => parseInviteLink(text), text.slice(0, 40)).toThrowError(CryptoError);
      try {
        parseInviteLink(text);
      } catch (e) {
        expect((e as CryptoError).code).toBe(code);
      }
    }
  });

  it('rejects a QR whose hub id does not match its key (a forged invite)', () => {
    const invite = newInvite(hub, { relays: [], now: 0, ttlSeconds: 60 });
    const bytes = encodeInvite(invite);
    bytes[1]! ^= 1;
    expect(() => decodeInvite(bytes)).toThrowError(/hub id does not match/);
  });

  it('rejects relay URLs that are not ws(s) or carry credentials', () => {
    expect(() => newInvite(hub, { relays: ['http://x/'], now: 0, ttlSeconds: 60 })).toThrowError(CryptoError);
    expect(() => newInvite(hub, { relays: ['ws://u:p@x/'], now: 0, ttlSeconds: 60 })).toThrowError(CryptoError);
  });

  it('never prints its secret', () => {
    const invite = newInvite(hub, { relays: [], now: 0, ttlSeconds: 60 });
    const secretHex = toHex(invite.secret.expose());
    const b64 = toBase64url(invite.secret.expose());
    for (const shown of [inspect(invite, { depth: 5 }), JSON.stringify(invite), String(invite.secret)]) {
      expect(shown).not.toContain(secretHex);
      expect(shown).not.toContain(b64);
      expect(shown.replace(/\s/g, '')).not.toContain(Array.from(invite.secret.expose()).join(','));
      expect(shown).not.toContain(Array.from(invite.secret.expose()).map((b, i) => `"${i}":${b}`).join(','));
    }
  });

  it('any string parses to an invite or a CryptoError, quickly', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => 'vigil://pair/' + s), fc.uint8Array({ maxLength: 400 }).map((b) => 'vigil://pair/' + toBase64url(b))), (text) => {
        try {
          parseInviteLink(text);
        } catch (e) {
          if (!isCryptoError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('any bytes decode to an invite or a CryptoError', () => {
    const valid = encodeInvite(newInvite(hub, { relays: ['ws://127.0.0.1:9/v1'], now: 0, ttlSeconds: 60 }));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(valid.length - 1), fc.nat(255), (noise, pos, val) => {
        for (const bytes of [noise, Uint8Array.from(valid).fill(val, pos, pos + 1)]) {
          try {
            decodeInvite(bytes);
          } catch (e) {
            if (!isCryptoError(e)) throw e;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
