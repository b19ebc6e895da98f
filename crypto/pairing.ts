// Pairing: a phone that scanned the hub's QR proves it holds the invite secret and learns that it is
// talking to the hub the QR named, in one Noise IKpsk2 handshake through the relay:
//
//   phone -> hub   PAIR_1 = u8 version || inviteId || Noise msg 1 (e, es, s, ss)
//                  payload: signing key || X-Wing key || relay key || name
//   hub -> phone   PAIR_2 = Noise msg 2 (e, ee, se, psk)
//                  payload: hub X-Wing key || hub relay key || Ed25519(hub, LABEL_HUB_KEYS || ...)
//   phone -> hub   PAIR_CONFIRM = transport message: proves the phone holds the invite secret
//   both           code = 6 digits from the handshake hash, compared by the owner
//   hub -> phone   PAIR_3 = transport message: the signed device certificate, or a refusal
//
// IKpsk2 mixes the PSK in at message 2, so the hub cannot tell from message 1 alone whether the
// sender knew the invite secret. The hub therefore shows a request to the owner, and can approve
// it, only after PAIR_CONFIRM authenticates under the PSK-derived keys.
//
// The PSK is derived from the invite's 256-bit secret, so a relay in the middle cannot complete
// either side; the phone's `rs` is the hub key from the QR, so a different hub cannot answer. The
// prologue binds protocol version, hub id and invite id, so nothing can be moved between invites.
import { concat, equalBytes, u8, utf8 } from './bytes.ts';
import { decodeCertificate, encodeCertificate, issueCertificate, type DeviceCertificate, type DevicePublicKeys, type Role } from './certificate.ts';
import { CryptoError, isCryptoError, malformed } from './errors.ts';
import { deriveKey, labeledHash } from './hash.ts';
import {
  ID_BYTES, SIGN_PUBLIC_BYTES, XWING_PUBLIC_BYTES, deviceIdFor, sign, verify,
  type DeviceIdentity, type HubIdentity, type HubPublicKeys,
} from './identity.ts';
import { isInviteExpired, type Invite } from './invite.ts';
import { LABEL_HUB_KEYS, LABEL_INVITE_PSK, LABEL_PAIRING_CODE, LABEL_PAIRING_CONFIRM, LABEL_PAIRING_PROLOGUE, PROTOCOL_VERSION } from './labels.ts';
import { createHandshake, type CipherState, type HandshakeState } from './noise.ts';
import type { Secret } from './secret.ts';
import { Reader, Writer } from './wire.ts';

export const MAX_DEVICE_NAME_BYTES = 64;
const RESULT_APPROVED = 1;
const RESULT_REFUSED = 2;

export function pairingPrologue(hubId: Uint8Array, inviteId: Uint8Array): Uint8Array {
  return concat(utf8(LABEL_PAIRING_PROLOGUE), u8(PROTOCOL_VERSION), hubId, inviteId);
}

export function invitePsk(secret: Secret): Uint8Array {
  return deriveKey(secret.expose(), LABEL_INVITE_PSK, 32);
}

/** code = decimal(u64be(H(LABEL_PAIRING_CODE, h)[0..8]) mod 10^6), zero-padded to 6 digits. */
export function confirmationCode(handshakeHash: Uint8Array): string {
  const h = labeledHash(LABEL_PAIRING_CODE, 8, handshakeHash);
  const n = new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0) % 1_000_000n;
  return n.toString().padStart(6, '0');
}

function hubKeysStatement(hubId: Uint8Array, exchangeKey: Uint8Array, pqKey: Uint8Array, relayKey: Uint8Array): Uint8Array {
  return concat(utf8(LABEL_HUB_KEYS), hubId, exchangeKey, pqKey, relayKey);
}

// ---------------------------------------------------------------------------------------------
// Phone side

export interface PhonePairing {
  /** PAIR_1, to post to the relay mailbox named by the invite id. */
  readonly message1: Uint8Array;
  /** Reads PAIR_2; gives the code to show, the hub's full key set and PAIR_CONFIRM to send. */
  readMessage2(message2: Uint8Array): { code: string; hub: HubPublicKeys; confirmation: Uint8Array };
  /** Reads PAIR_3: the certificate (checked against the QR's hub and this phone), or a refusal. */
  readResult(message3: Uint8Array): DeviceCertificate;
}

export function startPairing(opts: {
  invite: Invite;
  device: DeviceIdentity;
  /** The Ed25519 public key this phone will use on relays for this hub only. */
  relayKey: Uint8Array;
  name: string;
  /** Unix seconds. */
  now: number;
}): PhonePairing {
  const where = 'startPairing';
  const { invite, device } = opts;
  if (isInviteExpired(invite, opts.now)) throw new CryptoError('expired', where, 'this pairing code has expired; make a new one on the hub');
  const handshake = createHandshake({
    pattern: 'IKpsk2',
    initiator: true,
    prologue: pairingPrologue(invite.hubId, invite.inviteId),
    staticKeyPair: device.exchange,
    remoteStatic: invite.hubExchangeKey,
    psk: invitePsk(invite.secret),
  });
  const payload = new Writer()
    .fixed(device.signing.publicKey, SIGN_PUBLIC_BYTES)
    .fixed(device.pq.publicKey, XWING_PUBLIC_BYTES)
    .fixed(opts.relayKey, SIGN_PUBLIC_BYTES)
    .text16(truncateName(opts.name))
    .finish();
  const message1 = concat(u8(PROTOCOL_VERSION), invite.inviteId, handshake.writeMessage(payload));
  let hub: HubPublicKeys | undefined;
  let receive: CipherState | undefined;
  const CONFIRM = utf8(LABEL_PAIRING_CONFIRM);

  return {
    message1,
    readMessage2(message2) {
      const p = handshake.readMessage(message2);
      // IK already fails unless the responder holds the QR's static key; check it explicitly too.
      const rs = handshake.remoteStaticKey;
      if (rs === undefined || !equalBytes(rs, invite.hubExchangeKey)) {
        throw new CryptoError('wrong-hub-key', where, 'the hub answering is not the hub in the QR code');
      }
      const r = new Reader(p, 'readPairing2');
      const pqKey = r.fixed(XWING_PUBLIC_BYTES, 'pqKey');
      const relayKey = r.fixed(SIGN_PUBLIC_BYTES, 'relayKey');
      const signature = r.fixed(64, 'signature');
      r.end();
      if (!verify(invite.hubSigningKey, hubKeysStatement(invite.hubId, invite.hubExchangeKey, pqKey, relayKey), signature)) {
        throw new CryptoError('wrong-hub-key', where, 'hub key statement not signed by the hub in the QR code');
      }
      hub = { hubId: invite.hubId, signingKey: invite.hubSigningKey, exchangeKey: invite.hubExchangeKey, pqKey, relayKey };
      const split = handshake.split();
      receive = split.receive;
      const confirmation = split.send.encryptWithAd(new Uint8Array(0), CONFIRM);
      return { code: confirmationCode(handshake.handshakeHash), hub, confirmation };
    },
    readResult(message3) {
      if (receive === undefined || hub === undefined) throw new CryptoError('malformed', where, 'result before message 2');
      const plain = receive.decryptWithAd(new Uint8Array(0), message3);
      const r = new Reader(plain, 'readPairingResult');
      const kind = r.u8('result');
      if (kind === RESULT_REFUSED) throw new CryptoError('forbidden', where, 'the owner refused this phone on the hub');
      if (kind !== RESULT_APPROVED) throw malformed(where, `unknown result ${kind}`);
      const cert = decodeCertificate(r.rest(), hub.signingKey);
      if (!equalBytes(cert.hubId, hub.hubId) || !equalBytes(cert.deviceId, device.deviceId) ||
          !equalBytes(cert.exchangeKey, device.exchange.publicKey) || !equalBytes(cert.relayKey, opts.relayKey) ||
          !equalBytes(cert.signingKey, device.signing.publicKey) || !equalBytes(cert.pqKey, device.pq.publicKey)) {
        throw new CryptoError('tampered', where, 'certificate does not name this phone and hub');
      }
      return cert;
    },
  };
}

function truncateName(name: string): string {
  let out = name.normalize('NFC');
  while (utf8(out).length > MAX_DEVICE_NAME_BYTES) out = out.slice(0, -1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hub side

/** What the hub keeps of an open invite; the store enforces single use. */
export interface OpenInvite {
  readonly inviteId: Uint8Array;
  readonly secret: Secret;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly used: boolean;
}

export interface HubPairing {
  /** PAIR_2, to send to the phone's relay id. */
  readonly message2: Uint8Array;
  /** Reads PAIR_CONFIRM; only then is the request real enough to show the owner. Returns the code. */
  readConfirmation(message: Uint8Array): string;
  readonly confirmed: boolean;
  readonly device: DevicePublicKeys;
  readonly name: string;
  /** After the owner approved: the certificate and PAIR_3 carrying it. */
  approve(role: Role, now: number): { certificate: DeviceCertificate; message3: Uint8Array };
  /** After the owner refused: PAIR_3 saying so. */
  refuse(): Uint8Array;
}

/** Reads the invite id of PAIR_1 so the hub can look the invite up (nothing else is trusted yet). */
export function pairingInviteId(message1: Uint8Array): Uint8Array {
  if (message1.length < 1 + ID_BYTES) throw malformed('pairingInviteId', 'too short');
  if (message1[0] !== PROTOCOL_VERSION) throw new CryptoError('unsupported', 'pairingInviteId', `version ${message1[0]}`);
  return message1.slice(1, 1 + ID_BYTES);
}

export function acceptPairing(opts: { hub: HubIdentity; invite: OpenInvite; message1: Uint8Array; now: number }): HubPairing {
  const where = 'acceptPairing';
  const { hub, invite } = opts;
  const inviteId = pairingInviteId(opts.message1);
  if (!equalBytes(inviteId, invite.inviteId)) throw new CryptoError('not-for-me', where, 'message for another invite');
  if (invite.used) throw new CryptoError('replayed', where, 'this invite was already used');
  if (isInviteExpired(invite, opts.now)) throw new CryptoError('expired', where, 'invite expired');
  const handshake: HandshakeState = createHandshake({
    pattern: 'IKpsk2',
    initiator: false,
    prologue: pairingPrologue(hub.hubId, invite.inviteId),
    staticKeyPair: hub.exchange,
    psk: invitePsk(invite.secret),
  });
  let p: Uint8Array;
  try {
    p = handshake.readMessage(opts.message1.subarray(1 + ID_BYTES));
  } catch (e) {
    // With IKpsk2 a wrong PSK is only noticed at message 2 by the phone; a wrong hub key fails here.
    if (isCryptoError(e)) throw e;
    throw new CryptoError('tampered', where, 'handshake failed', { cause: e });
  }
  const r = new Reader(p, 'readPairing1');
  const signingKey = r.fixed(SIGN_PUBLIC_BYTES, 'signingKey');
  const pqKey = r.fixed(XWING_PUBLIC_BYTES, 'pqKey');
  const relayKey = r.fixed(SIGN_PUBLIC_BYTES, 'relayKey');
  const name = r.text16('name', MAX_DEVICE_NAME_BYTES);
  r.end();
  const exchangeKey = handshake.remoteStaticKey;
  if (exchangeKey === undefined) throw new CryptoError('malformed', where, 'no phone static key');
  const device: DevicePublicKeys = { deviceId: deviceIdFor(signingKey), signingKey, exchangeKey, pqKey, relayKey };
  const statement = sign(hub.signing, hubKeysStatement(hub.hubId, hub.exchange.publicKey, hub.pq.publicKey, hub.relay.publicKey));
  const message2 = handshake.writeMessage(concat(hub.pq.publicKey, hub.relay.publicKey, statement));
  const code = confirmationCode(handshake.handshakeHash);
  const { send, receive } = handshake.split();
  let answered = false;
  let confirmed = false;
  const once = () => {
    if (!confirmed) throw new CryptoError('forbidden', where, 'the phone has not proven it holds the invite');
    if (answered) throw new CryptoError('replayed', where, 'this pairing was already answered');
    answered = true;
  };
  return {
    message2,
    device,
    name,
    get confirmed() {
      return confirmed;
    },
    readConfirmation(message) {
      if (confirmed) throw new CryptoError('replayed', where, 'already confirmed');
      const plain = receive.decryptWithAd(new Uint8Array(0), message);
      if (!equalBytes(plain, utf8(LABEL_PAIRING_CONFIRM))) throw malformed(where, 'not a confirmation');
      confirmed = true;
      return code;
    },
    approve(role, now) {
      once();
      const certificate = issueCertificate(hub, device, role, now);
      return { certificate, message3: send.encryptWithAd(new Uint8Array(0), concat(u8(RESULT_APPROVED), encodeCertificate(certificate))) };
    },
    refuse() {
      once();
      return send.encryptWithAd(new Uint8Array(0), u8(RESULT_REFUSED));
    },
  };
}
