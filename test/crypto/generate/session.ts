// Builds the session known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/session.json; test/crypto/kat-session.test.ts checks the code against that file.
import { sodium } from '../../../crypto/sodium.ts';
import { concat, fromHex, toHex, utf8 } from '../../../crypto/bytes.ts';
import { deriveKey, labeledHash } from '../../../crypto/hash.ts';
import { hubPublicKeys, type DeviceIdentity, type HubIdentity } from '../../../crypto/identity.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { LABEL_SESSION_PSK } from '../../../crypto/labels.ts';
import { createHandshakeWithFixedEphemeral } from '../../../crypto/noise.testing.ts';
import { acceptSession, sessionPrologue, startSession, type Session } from '../../../crypto/session.ts';
import { withFixedRandomness } from '../../../crypto/sodium.testing.ts';
import { CAST, deviceSeedsFrom, flip, hexSeeds, hubSeedsFrom, same, seq, type Expect, type HexSeeds } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil session known-answer vectors, docs/PROTOCOL.md section 6. The vector "transcript" fixes the hub and phone (seeds), ' +
  'the phone and hub Noise ephemeral private keys and the 64-byte X-Wing encapsulation seed (crypto_kem_xwing_enc_deterministic); ' +
  'the phone writes message1 (payload1), the hub answers message2 (payload2), both get handshakeHash, and transport lists the ' +
  'transport messages in the order sealed (plaintexts are session messages, section 11.2). Each other vector replays that ' +
  'transcript up to step and then feeds input: hub-read-1 (acceptSession by the transcript hub, or the hub of readerSeeds; the ' +
  'phone is enrolled unless enrolled is false), phone-read-2 (finish), hub-open / phone-open (Session.open after opening each ' +
  'openFirst). The result must be expect.';

interface Transcript {
  hubSeeds: HexSeeds;
  phoneSeeds: HexSeeds;
  phoneEphemeral: string;
  hubEphemeral: string;
  encapsulationSeed: string;
  payload1: string;
  payload2: string;
  /** Transport messages in the order sent; seq counts per direction from 0. */
  transport: { from: 'phone' | 'hub'; seq: number; plaintext: string; wire: string }[];
  prologue: string;
  xwingCiphertext: string;
  xwingSharedSecret: string;
  psk: string;
  message1: string;
  message2: string;
  handshakeHash: string;
}

type Step = 'hub-read-1' | 'phone-read-2' | 'hub-open' | 'phone-open';

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  /** The transcript itself (step absent), or one step of the `transcript` vector's run fed `input`. */
  transcript?: Transcript;
  step?: Step;
  input?: string;
  /** hub-open / phone-open: transport messages opened (successfully) first. */
  openFirst?: string[];
  /** hub-read-1: the reading hub's seeds when not the transcript's hub, and whether the phone is enrolled. */
  readerSeeds?: HexSeeds;
  enrolled?: boolean;
}

interface Run {
  hub: HubIdentity;
  phone: DeviceIdentity;
  phoneSession: Session;
  hubSession: Session;
}

export function parties(t: Transcript) {
  return { hub: hubIdentityFromSeeds(hubSeedsFrom(t.hubSeeds)), phone: deviceIdentityFromSeeds(deviceSeedsFrom(t.phoneSeeds)) };
}

export function startFixed(t: Transcript, phone: DeviceIdentity, hub: HubIdentity) {
  return withFixedRandomness({ ephemerals: [fromHex(t.phoneEphemeral)], encapsulationSeeds: [fromHex(t.encapsulationSeed)] }, () =>
    startSession({ device: phone, hub: hubPublicKeys(hub), payload: fromHex(t.payload1) }));
}

function acceptFixed(t: Transcript, hub: HubIdentity, message1: Uint8Array, enrolledKey: Uint8Array | undefined) {
  const accepted = acceptSession({ hub, message1, lookupDevice: (k) => (enrolledKey !== undefined && toHex(k) === toHex(enrolledKey) ? 'phone' : undefined) });
  return { accepted, ...withFixedRandomness({ ephemerals: [fromHex(t.hubEphemeral)] }, () => accepted.respond(fromHex(t.payload2))) };
}

/** The whole transcript through the shipped code; each output is checked against the vector. */
export function run(t: Transcript): Run {
  const { hub, phone } = parties(t);
  const started = startFixed(t, phone, hub);
  same(toHex(started.message1), t.message1, 'started.message1');
  const { accepted, message2, session: hubSession } = acceptFixed(t, hub, started.message1, phone.exchange.publicKey);
  same(toHex(accepted.payload), t.payload1, 'accepted.payload');
  same(toHex(accepted.exchangeKey), toHex(phone.exchange.publicKey), 'accepted.exchangeKey');
  same(toHex(message2), t.message2, 'message2');
  const { session: phoneSession, payload } = started.finish(message2);
  same(toHex(payload), t.payload2, 'payload');
  same(toHex(phoneSession.handshakeHash), t.handshakeHash, 'phoneSession.handshakeHash');
  same(toHex(hubSession.handshakeHash), t.handshakeHash, 'hubSession.handshakeHash');
  return { hub, phone, phoneSession, hubSession };
}

/** From docs/PROTOCOL.md §6.2-6.3 with Noise directly, not through session.ts. */
export function reference(t: Transcript) {
  const { hub, phone } = parties(t);
  const s = sodium();
  const kem = s.crypto_kem_xwing_enc_deterministic(hub.pq.publicKey, fromHex(t.encapsulationSeed));
  const psk = deriveKey(kem.sharedSecret, LABEL_SESSION_PSK, 32);
  const prologue = concat(utf8('vigil v1 session'), Uint8Array.of(1), hub.hubId);
  const i = createHandshakeWithFixedEphemeral({ pattern: 'IKpsk2', initiator: true, prologue, staticKeyPair: phone.exchange, remoteStatic: hub.exchange.publicKey, psk, ephemeralPrivateKey: fromHex(t.phoneEphemeral) });
  const r = createHandshakeWithFixedEphemeral({ pattern: 'IKpsk2', initiator: false, prologue, staticKeyPair: hub.exchange, psk, ephemeralPrivateKey: fromHex(t.hubEphemeral) });
  const message1 = concat(Uint8Array.of(0x11), i.writeMessage(concat(kem.ciphertext, fromHex(t.payload1))));
  r.readMessage(message1.subarray(1));
  const message2 = concat(Uint8Array.of(0x12), r.writeMessage(fromHex(t.payload2)));
  i.readMessage(message2.subarray(1));
  const phoneSend = i.split().send;
  const hubSend = r.split().send;
  const tag = labeledHash('vigil v1 session tag', 16, i.handshakeHash).subarray(0, 4);
  const transport = t.transport.map((m) => {
    const header = new Uint8Array(13);
    header[0] = 0x13;
    header.set(tag, 1);
    new DataView(header.buffer).setBigUint64(5, BigInt(m.seq));
    return toHex(concat(header, (m.from === 'phone' ? phoneSend : hubSend).encryptAt(BigInt(m.seq), header, fromHex(m.plaintext))));
  });
  return { prologue, kem, psk, message1, message2, handshakeHash: i.handshakeHash, transport };
}

export function buildVectors(): Vector[] {
  const base = {
    hubSeeds: hexSeeds(CAST.hub), phoneSeeds: hexSeeds(CAST.owner), phoneEphemeral: toHex(seq(32, 0x11)), hubEphemeral: toHex(seq(32, 0x12)),
    encapsulationSeed: toHex(seq(64, 0x70)), payload1: '', payload2: toHex(utf8('a signed key update would go here')),
  };
  const { hub, phone } = parties(base as Transcript);
  const started = startFixed(base as Transcript, phone, hub);
  const { message2, session: hubSession } = acceptFixed(base as Transcript, hub, started.message1, phone.exchange.publicKey);
  const { session: phoneSession } = started.finish(message2);
  const sends: [Session, 'phone' | 'hub', string][] = [
    [phoneSession, 'phone', '01' + toHex(utf8('list-cameras command'))], [hubSession, 'hub', '02' + toHex(utf8('result'))],
    [hubSession, 'hub', '04' + toHex(utf8('{"type":"cameras-changed"}'))], [phoneSession, 'phone', ''], [hubSession, 'hub', toHex(seq(300, 0))],
  ];
  const transport = sends.map(([session, from, plaintext]) => {
    const s = Number(session.nextSequence);
    return { from, seq: s, plaintext, wire: toHex(session.seal(fromHex(plaintext))) };
  });
  const kem = sodium().crypto_kem_xwing_enc_deterministic(hub.pq.publicKey, fromHex(base.encapsulationSeed));
  const t: Transcript = {
    ...base, transport, prologue: toHex(sessionPrologue(hub.hubId)), xwingCiphertext: toHex(kem.ciphertext), xwingSharedSecret: toHex(kem.sharedSecret),
    psk: toHex(deriveKey(kem.sharedSecret, LABEL_SESSION_PSK, 32)), message1: toHex(started.message1), message2: toHex(message2),
    handshakeHash: toHex(phoneSession.handshakeHash),
  };
  const v: Vector[] = [{ name: 'transcript', comment: 'owner and hub: handshake and five transport messages', expect: 'success', transcript: t }];
  const step = (name: string, comment: string, expectCode: Expect, s: Step, input: string, extra: Partial<Vector> = {}) =>
    v.push({ name, comment, expect: expectCode, step: s, input, ...extra });
  const [p0, h0, h1, p1] = transport.map((m) => m.wire) as [string, string, string, string];

  step('message1-s-bit', 'message 1 with a bit of the encrypted phone key flipped', 'tampered', 'hub-read-1', flip(t.message1, 40));
  step('message1-payload-bit', 'message 1 with a bit of the encrypted X-Wing ciphertext flipped', 'tampered', 'hub-read-1', flip(t.message1, 500, 6));
  step('message1-version-2', 'message 1 with header 0x21: another protocol version', 'unsupported', 'hub-read-1', '21' + t.message1.slice(2));
  step('message1-type-2', 'message 1 with header 0x12: the wrong message type', 'malformed', 'hub-read-1', '12' + t.message1.slice(2));
  step('message1-short', 'message 1 cut to 60 bytes', 'malformed', 'hub-read-1', t.message1.slice(0, 120));
  step('message1-not-enrolled', 'an authentic message 1 from a phone the hub does not know (or removed)', 'forbidden', 'hub-read-1', t.message1, { enrolled: false });
  step('message1-at-other-hub', 'message 1 read by another hub (the relay misroutes it)', 'tampered', 'hub-read-1', t.message1, { readerSeeds: hexSeeds(CAST.otherHub) });
  step('message1-replayed', 'the same message 1 again: the hub answers (it keeps no state); the relay gains nothing (§6.5)', 'success', 'hub-read-1', t.message1);

  // A hub holding the right X25519 key but another X-Wing key derives another PSK.
  const wrongPq = hubIdentityFromSeeds({ ...CAST.hub, pq: seq(32, 0x99) });
  const m2WrongPq = acceptFixed(t, wrongPq, fromHex(t.message1), phone.exchange.publicKey).message2;
  step('message2-wrong-xwing-key', 'message 2 from a hub with the right X25519 key but another X-Wing key: the PSKs differ', 'tampered', 'phone-read-2', toHex(m2WrongPq));
  step('message2-bit', 'message 2 with a bit of its tag flipped', 'tampered', 'phone-read-2', flip(t.message2, -1, 7));
  step('message2-ephemeral-bit', 'message 2 with a bit of the hub ephemeral flipped', 'tampered', 'phone-read-2', flip(t.message2, 5, 2));
  const other = startFixed({ ...t, phoneEphemeral: toHex(seq(32, 0x13)) }, phone, hub);
  const otherM2 = acceptFixed(t, hub, other.message1, phone.exchange.publicKey).message2;
  step('message2-of-another-handshake', 'the hub\'s answer to another message 1 of the same phone', 'tampered', 'phone-read-2', toHex(otherM2));
  const otherWire = toHex(other.finish(otherM2).session.seal(utf8('list-cameras command')));
  step('message2-version-2', 'header 0x22', 'unsupported', 'phone-read-2', '22' + t.message2.slice(2));
  step('message2-short', 'message 2 cut to 40 bytes', 'malformed', 'phone-read-2', t.message2.slice(0, 80));

  step('transport-reordered', 'the phone opens the hub\'s second message, then its first: inside the window', 'success', 'phone-open', h0, { openFirst: [h1] });
  step('transport-replayed-at-hub', 'the phone\'s first message delivered twice', 'replayed', 'hub-open', p0, { openFirst: [p0] });
  step('transport-replayed-at-phone', 'the hub\'s first message delivered twice', 'replayed', 'phone-open', h0, { openFirst: [h0, h1] });
  step('transport-bit', 'the phone\'s first message with a ciphertext bit flipped', 'tampered', 'hub-open', flip(p0, 16, 0));
  step('transport-seq-changed', 'the phone\'s second message (seq 1) re-labelled as seq 2', 'tampered', 'hub-open', flip(flip(p1, 12, 0), 12, 1));
  step('transport-tag-changed', 'the phone\'s first message with a bit of its session tag flipped: it names no session the hub holds', 'not-for-me', 'hub-open', flip(p0, 2, 3));
  step('transport-other-session', 'a message the same phone sealed in another handshake\'s session', 'not-for-me', 'hub-open', otherWire);
  step('transport-reflected', 'the hub\'s own message sent back to it', 'tampered', 'hub-open', h0);
  step('transport-version-2', 'header 0x23', 'unsupported', 'hub-open', '23' + p0.slice(2));
  step('transport-type-1', 'header 0x11 on a transport message', 'malformed', 'hub-open', '11' + p0.slice(2));
  step('transport-short', '28 bytes: header and less than a tag', 'malformed', 'hub-open', p0.slice(0, 56));
  step('transport-max-seq', 'sequence number 2^64-1, which no sender uses', 'malformed', 'hub-open', p0.slice(0, 10) + 'ffffffffffffffff' + p0.slice(26));
  return v;
}
