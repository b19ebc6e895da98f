// Known-answer vectors for the invite (docs/PROTOCOL.md §2): test/crypto/vectors/invite.json.
// Each entry is a scanned link; a good one must parse to exactly the recorded fields (and the PSK
// pairing derives from its secret), re-encode to the same bytes and format back to the same link; a
// bad one must be refused with exactly its `expect` code.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { fromHex, toBase64url, toHex } from '../../crypto/bytes.ts';
import { encodeInvite, formatInviteLink, parseInviteLink } from '../../crypto/invite.ts';
import { invitePsk } from '../../crypto/pairing.ts';
import { expectKinds, outcome, readVectors } from './kat-support.ts';
import { type Vector, fields } from './generate/invite.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('invite known-answer vectors (test/crypto/vectors/invite.json)', () => {
  const vectors = readVectors<Vector>('invite');

  it('covers success, malformed and unsupported', () => {
    expectKinds(vectors, ['success', 'malformed', 'unsupported']);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      expect(outcome(() => parseInviteLink(v.link))).toBe(v.expect);
      if (v.bytes !== undefined) expect(v.link.trim()).toContain(toBase64url(fromHex(v.bytes)).slice(0, 8));
      if (v.expect !== 'success') return;
      const invite = parseInviteLink(v.link);
      expect(fields(invite)).toEqual(v.invite);
      expect(toHex(encodeInvite(invite))).toBe(v.bytes);
      expect(formatInviteLink(invite, v.appUrl)).toBe(v.link.trim());
      expect(toHex(invitePsk(invite.secret))).toBe(v.psk);
    });
  }
});
