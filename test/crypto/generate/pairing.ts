// Builds the pairing known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/pairing.json; test/crypto/kat-pairing.test.ts checks the code against that file.
import { sodium } from '../../../crypto/sodium.ts';
import { concat, fromHex, toHex, utf8 } from '../../../crypto/bytes.ts';
import { encodeCertificate } from '../../../crypto/certificate.ts';
import { labeledHash } from '../../../crypto/hash.ts';
import { sign, type DeviceIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { parseInviteLink, formatInviteLink, type Invite } from '../../../crypto/invite.ts';
import { createHandshakeWithFixedEphemeral } from '../../../crypto/noise.testing.ts';
import { acceptPairing, confirmationCode, invitePsk, pairingPrologue, startPairing, type HubPairing, type OpenInvite, type PhonePairing } from '../../../crypto/pairing.ts';
import type { Role } from '../../../crypto/certificate.ts';
import { Secret } from '../../../crypto/secret.ts';
import { withFixedRandomness } from '../../../crypto/sodium.testing.ts';
import { Writer } from '../../../crypto/wire.ts';
import { CAST, deviceSeedsFrom, flip, hexSeeds, hubSeedsFrom, same, seq, type Expect, type HexSeeds } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil pairing known-answer vectors, docs/PROTOCOL.md section 3. The vector "transcript" fixes hub and phone (seeds), the ' +
  'phone\'s relay key (Ed25519 seed), the scanned link, the phone\'s name, now (Unix s), and both Noise ephemeral private keys; ' +
  'the exchange gives message1 (PAIR_1), message2 (PAIR_2), handshakeHash, code, confirmation (PAIR_CONFIRM), result ' +
  '(PAIR_RESULT approving with role, issuedAt) holding certificate, and refusal (PAIR_RESULT of the same exchange refused). ' +
  'Each other vector replays the exchange up to step and then feeds input: hub-read-1 (acceptPairing; the invite is open ' +
  'unless inviteUsed, the hub\'s clock is hubNow or now), phone-read-2 (readMessage2), hub-read-confirm (readConfirmation after ' +
  'each readFirst), phone-read-result (readResult). The result must be expect.';

interface Transcript {
  hubSeeds: HexSeeds;
  phoneSeeds: HexSeeds;
  /** Ed25519 seed of the relay key the phone makes for this hub. */
  phoneRelaySeed: string;
  /** The QR the phone scanned (invite.json format). */
  link: string;
  name: string;
  /** Unix seconds, at the phone and at the hub. */
  now: number;
  phoneEphemeral: string;
  hubEphemeral: string;
  role: Role;
  /** Unix seconds, the certificate's issuedAt. */
  issuedAt: number;
  prologue: string;
  psk: string;
  message1: string;
  message2: string;
  handshakeHash: string;
  code: string;
  confirmation: string;
  /** PAIR_RESULT approving, and the certificate inside it. */
  result: string;
  certificate: string;
  /** PAIR_RESULT refusing (the same exchange, the owner says no). */
  refusal: string;
}

type Step = 'hub-read-1' | 'phone-read-2' | 'hub-read-confirm' | 'phone-read-result';

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  transcript?: Transcript;
  step?: Step;
  input?: string;
  /** hub-read-1: the hub's view of the invite, when not open and unexpired at the transcript's now. */
  inviteUsed?: boolean;
  hubNow?: number;
  /** hub-read-confirm: confirmations read (successfully) first. */
  readFirst?: string[];
}

export function parties(t: Transcript) {
  const hub = hubIdentityFromSeeds(hubSeedsFrom(t.hubSeeds));
  const phone = deviceIdentityFromSeeds(deviceSeedsFrom(t.phoneSeeds));
  const relayKey = sodium().crypto_sign_seed_keypair(fromHex(t.phoneRelaySeed)).publicKey;
  const invite = parseInviteLink(t.link);
  return { hub, phone, relayKey, invite };
}

export function openInvite(invite: Invite, used = false): OpenInvite {
  return { inviteId: invite.inviteId, secret: invite.secret, expiresAt: invite.expiresAt, used };
}

export function phoneStart(t: Transcript, invite: Invite, phone: DeviceIdentity, relayKey: Uint8Array, ephemeral = t.phoneEphemeral): PhonePairing {
  return withFixedRandomness({ ephemerals: [fromHex(ephemeral)] }, () => startPairing({ invite, device: phone, relayKey, name: t.name, now: t.now }));
}

export function hubAccept(t: Transcript, hub: HubIdentity, invite: OpenInvite, message1: Uint8Array, now = t.now): HubPairing {
  return withFixedRandomness({ ephemerals: [fromHex(t.hubEphemeral)] }, () => acceptPairing({ hub, invite, message1, now }));
}

/** The whole exchange through the shipped code, each output checked against the vector. */
export function run(t: Transcript) {
  const { hub, phone, relayKey, invite } = parties(t);
  const p = phoneStart(t, invite, phone, relayKey);
  same(toHex(p.message1), t.message1, 'p.message1');
  const h = hubAccept(t, hub, openInvite(invite), p.message1);
  same(toHex(h.message2), t.message2, 'h.message2');
  same(h.name, t.name, 'h.name');
  same(toHex(h.device.deviceId), toHex(phone.deviceId), 'h.device.deviceId');
  const { code, confirmation, hub: hubKeys } = p.readMessage2(h.message2);
  same(code, t.code, 'code');
  same(toHex(hubKeys.pqKey), toHex(hub.pq.publicKey), 'hubKeys.pqKey');
  same(toHex(confirmation), t.confirmation, 'confirmation');
  same(h.readConfirmation(confirmation), t.code, 'h.readConfirmation(confirmation)');
  return { hub, phone, invite, p, h };
}

/** From docs/PROTOCOL.md §3.1-3.2 with Noise directly, not through pairing.ts. */
export function reference(t: Transcript) {
  const { hub, phone, relayKey, invite } = parties(t);
  const prologue = concat(utf8('vigil v1 pairing'), Uint8Array.of(1), invite.hubId, invite.inviteId);
  const l = utf8('vigil v1 invite psk');
  const psk = sodium().crypto_generichash(32, concat(Uint8Array.of(l.length), l), invite.secret.expose());
  const i = createHandshakeWithFixedEphemeral({ pattern: 'IKpsk2', initiator: true, prologue, staticKeyPair: phone.exchange, remoteStatic: invite.hubExchangeKey, psk, ephemeralPrivateKey: fromHex(t.phoneEphemeral) });
  const r = createHandshakeWithFixedEphemeral({ pattern: 'IKpsk2', initiator: false, prologue, staticKeyPair: hub.exchange, psk, ephemeralPrivateKey: fromHex(t.hubEphemeral) });
  const payload1 = new Writer().fixed(phone.signing.publicKey, 32).fixed(phone.pq.publicKey, 1216).fixed(relayKey, 32).text16(t.name).finish();
  const message1 = concat(Uint8Array.of(1), invite.inviteId, i.writeMessage(payload1));
  r.readMessage(message1.subarray(17));
  const statement = concat(utf8('vigil v1 hub keys'), hub.hubId, hub.exchange.publicKey, hub.pq.publicKey, hub.relay.publicKey);
  const message2 = r.writeMessage(concat(hub.pq.publicKey, hub.relay.publicKey, sign(hub.signing, statement)));
  i.readMessage(message2);
  const h = i.handshakeHash;
  const c = labeledHash('vigil v1 pairing code', 8, h);
  const code = (new DataView(c.buffer, c.byteOffset).getBigUint64(0) % 1_000_000n).toString().padStart(6, '0');
  const confirmation = i.split().send.encryptWithAd(new Uint8Array(0), utf8('vigil v1 pairing confirm'));
  const hubSend = r.split().send;
  return { prologue, psk, message1, message2, handshakeHash: h, code, confirmation, result: hubSend.encryptWithAd(new Uint8Array(0), concat(Uint8Array.of(1), fromHex(t.certificate))) };
}

export function buildVectors(): Vector[] {
  const hub = hubIdentityFromSeeds(CAST.hub);
  const invite: Invite = {
    version: 1, hubId: hub.hubId, hubSigningKey: hub.signing.publicKey, hubExchangeKey: hub.exchange.publicKey, inviteId: seq(16, 0xa0),
    secret: new Secret(seq(32, 0xb0), 'invite secret'), relays: ['wss://relay.example/v1'], expiresAt: 1_800_000_600,
  };
  const partial = {
    hubSeeds: hexSeeds(CAST.hub), phoneSeeds: hexSeeds(CAST.owner), phoneRelaySeed: toHex(seq(32, 0x05)), link: formatInviteLink(invite),
    name: 'Ana’s phone', now: 1_800_000_100, phoneEphemeral: toHex(seq(32, 0x14)), hubEphemeral: toHex(seq(32, 0x15)), role: 'owner' as Role, issuedAt: 1_800_000_160,
  };
  const { phone, relayKey } = parties(partial as Transcript);
  const p = phoneStart(partial as Transcript, invite, phone, relayKey);
  const h = hubAccept(partial as Transcript, hub, openInvite(invite), p.message1);
  const r2 = p.readMessage2(h.message2);
  h.readConfirmation(r2.confirmation);
  const { certificate, message3 } = h.approve(partial.role, partial.issuedAt);
  // The same exchange again, refused this time (deterministic, so the same keys).
  const p2 = phoneStart(partial as Transcript, invite, phone, relayKey);
  const h2 = hubAccept(partial as Transcript, hub, openInvite(invite), p2.message1);
  h2.readConfirmation(p2.readMessage2(h2.message2).confirmation);
  const t: Transcript = {
    ...partial, prologue: toHex(pairingPrologue(invite.hubId, invite.inviteId)), psk: toHex(invitePsk(invite.secret)), message1: toHex(p.message1),
    message2: toHex(h.message2), handshakeHash: '', code: r2.code, confirmation: toHex(r2.confirmation), result: toHex(message3),
    certificate: toHex(encodeCertificate(certificate)), refusal: toHex(h2.refuse()),
  };
  t.handshakeHash = toHex(reference(t).handshakeHash);
  same(confirmationCode(fromHex(t.handshakeHash)), t.code, 'confirmationCode(fromHex(t.handshakeHash))');

  const v: Vector[] = [{ name: 'transcript', comment: 'the owner pairs with the hub through the relay mailbox', expect: 'success', transcript: t }];
  const step = (name: string, comment: string, expectCode: Expect, s: Step, input: string, extra: Partial<Vector> = {}) =>
    v.push({ name, comment, expect: expectCode, step: s, input, ...extra });

  step('pair1-s-bit', 'PAIR_1 with a bit of the encrypted phone key flipped', 'tampered', 'hub-read-1', flip(t.message1, 17 + 40));
  step('pair1-payload-bit', 'PAIR_1 with a bit of the encrypted payload flipped', 'tampered', 'hub-read-1', flip(t.message1, 400, 4));
  step('pair1-version-2', 'PAIR_1 with version byte 2', 'unsupported', 'hub-read-1', '02' + t.message1.slice(2));
  step('pair1-other-invite', 'PAIR_1 naming another invite id', 'not-for-me', 'hub-read-1', flip(t.message1, 1));
  step('pair1-short', 'PAIR_1 cut to 16 bytes', 'malformed', 'hub-read-1', t.message1.slice(0, 32));
  step('pair1-short-noise', 'PAIR_1 with its Noise message cut to 60 bytes', 'malformed', 'hub-read-1', t.message1.slice(0, 2 * (17 + 60)));
  step('pair1-used-invite', 'an authentic PAIR_1 for an invite the hub already used', 'replayed', 'hub-read-1', t.message1, { inviteUsed: true });
  step('pair1-expired-invite', 'an authentic PAIR_1 at the second the invite expires', 'expired', 'hub-read-1', t.message1, { hubNow: 1_800_000_600 });
  // A phone that scanned a QR naming this hub but another hub's X25519 key (a forged QR, hub id intact).
  const forgedQr = { ...invite, hubExchangeKey: hubIdentityFromSeeds(CAST.otherHub).exchange.publicKey };
  const pForged = phoneStart(t, forgedQr, phone, relayKey);
  step('pair1-for-other-hub-key', 'PAIR_1 made for another hub\'s X25519 key (es, ss fail at this hub)', 'tampered', 'hub-read-1', toHex(pForged.message1));

  const otherSecret = { ...invite, secret: new Secret(seq(32, 0xc7), 'invite secret') };
  const hWrongPsk = hubAccept(t, hub, openInvite(otherSecret), p.message1);
  step('pair2-wrong-psk', 'PAIR_2 from the right hub holding another invite secret (a relay guessing it)', 'tampered', 'phone-read-2', toHex(hWrongPsk.message2));
  const rogue: HubIdentity = { ...hub, signing: hubIdentityFromSeeds(CAST.otherHub).signing };
  const hRogue = hubAccept(t, rogue, openInvite(invite), p.message1);
  step('pair2-wrong-hub-key', 'PAIR_2 from a hub with the QR\'s X25519 key and secret but another signing key', 'wrong-hub-key', 'phone-read-2', toHex(hRogue.message2));
  step('pair2-bit', 'PAIR_2 with a bit of the encrypted payload flipped', 'tampered', 'phone-read-2', flip(t.message2, 700, 1));
  step('pair2-ephemeral-bit', 'PAIR_2 with a bit of the hub ephemeral flipped', 'tampered', 'phone-read-2', flip(t.message2, 0));
  step('pair2-short', 'PAIR_2 cut to 40 bytes', 'malformed', 'phone-read-2', t.message2.slice(0, 80));

  step('confirm-bit', 'PAIR_CONFIRM with its last bit flipped', 'tampered', 'hub-read-confirm', flip(t.confirmation, -1, 7));
  step('confirm-replayed', 'PAIR_CONFIRM delivered twice', 'replayed', 'hub-read-confirm', t.confirmation, { readFirst: [t.confirmation] });
  step('confirm-result-sent-back', 'the hub\'s own PAIR_RESULT posted back as a confirmation', 'tampered', 'hub-read-confirm', t.result);

  step('result-refused', 'PAIR_RESULT saying the owner refused', 'forbidden', 'phone-read-result', t.refusal);
  step('result-bit', 'PAIR_RESULT with a bit of the certificate flipped', 'tampered', 'phone-read-result', flip(t.result, 100, 0));
  step('result-confirm-reflected', 'the phone\'s own PAIR_CONFIRM sent back as the result', 'tampered', 'phone-read-result', t.confirmation);
  return v;
}
