// Phone↔hub sessions: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b with an X-Wing shared secret in the PSK
// slot (as Rosenpass does for WireGuard), so a relay that records everything today learns nothing
// from it with a quantum computer tomorrow. The phone is the initiator: it knows the hub's X25519
// and X-Wing keys from pairing. docs/protocol/session.md is the spec; this file follows it.
//
//   message 1  phone -> hub  u8 0x11 || Noise(e, es, s, ss; payload = xwingCiphertext || app payload)
//   message 2  hub -> phone  u8 0x12 || Noise(e, ee, se, psk; payload = app payload)
//   transport  either way    u8 0x13 || tag(4) || u64be seq || ChaChaPoly(k, nonce(seq), ad = first 13 bytes, plaintext)
//
// The first byte is (PROTOCOL_VERSION << 4) | type. The tag names the session (from its handshake
// hash), so a message sealed in a session the receiver does not hold is told apart from a changed
// one. Sequence numbers travel in the clear so a relay may reorder or drop messages; a replay window
// refuses each number a second time.
import { concat, toHex, utf8, u8, wipe } from './bytes.ts';
import { CryptoError, isCryptoError } from './errors.ts';
import { deriveKey, labeledHash } from './hash.ts';
import {
  DH_BYTES,
  ID_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_PUBLIC_BYTES,
  pqPrivateKey,
  type DeviceIdentity,
  type HubIdentity,
  type HubPublicKeys,
} from './identity.ts';
import { LABEL_SESSION_PROLOGUE, LABEL_SESSION_PSK, LABEL_SESSION_TAG, PROTOCOL_VERSION } from './labels.ts';
import { MAX_MESSAGE_LEN, MAX_NONCE, TAG_LEN, createHandshake, type CipherState, type HandshakeState } from './noise.ts';
import { ReplayWindow } from './replay.ts';
import { sodium } from './sodium.ts';

/** The session's Noise protocol; its full name is hashed into every handshake. */
export const SESSION_PATTERN = 'IKpsk2';

/** Message types, the low nibble of a session message's first byte. */
export const SessionMessageType = {
  HANDSHAKE_1: 0x1,
  HANDSHAKE_2: 0x2,
  TRANSPORT: 0x3,
} as const;
export type SessionMessageType = (typeof SessionMessageType)[keyof typeof SessionMessageType];

/** First byte of a session message: protocol version in the high nibble, type in the low one. */
export function sessionHeaderByte(type: SessionMessageType): number {
  return ((PROTOCOL_VERSION & 0x0f) << 4) | type;
}

const HEADER_LEN = 1;
/** Bytes of the session tag in a transport header. */
export const SESSION_TAG_LEN = 4;
/** Transport header: type/version byte, session tag, u64be sequence number; the AEAD's associated data. */
export const TRANSPORT_HEADER_LEN = 1 + SESSION_TAG_LEN + 8;

/**
 * tag = H("vigil v1 session tag", 16, handshakeHash)[0:4]: names a session on the wire. It proves
 * nothing (anyone on the path may change it, as they may drop the message); it only lets a
 * receiver tell "not sealed in this session" from "changed".
 */
export function sessionTag(handshakeHash: Uint8Array): Uint8Array {
  return labeledHash(LABEL_SESSION_TAG, 16, handshakeHash).slice(0, SESSION_TAG_LEN);
}
/** The last sequence number a sender uses: 2^64-1 is Noise's reserved nonce. */
export const MAX_SEQUENCE = MAX_NONCE - 1n;
/** Largest plaintext `seal` takes: a Noise transport ciphertext is at most 65535 bytes. */
export const MAX_SESSION_PLAINTEXT = MAX_MESSAGE_LEN - TAG_LEN;
const MESSAGE1_OVERHEAD = DH_BYTES + (DH_BYTES + TAG_LEN) + TAG_LEN; // e, encrypted s, payload tag
const MESSAGE2_OVERHEAD = DH_BYTES + TAG_LEN; // e, payload tag
/** Largest application payload in message 1 (after the X-Wing ciphertext). */
export const MAX_MESSAGE1_PAYLOAD = MAX_MESSAGE_LEN - MESSAGE1_OVERHEAD - XWING_CIPHERTEXT_BYTES;
/** Largest application payload in message 2. */
export const MAX_MESSAGE2_PAYLOAD = MAX_MESSAGE_LEN - MESSAGE2_OVERHEAD;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const EMPTY = new Uint8Array(0);

/** prologue = utf8(LABEL_SESSION_PROLOGUE) || u8(PROTOCOL_VERSION) || hubId: binds version and hub. */
export function sessionPrologue(hubId: Uint8Array): Uint8Array {
  return concat(utf8(LABEL_SESSION_PROLOGUE), u8(PROTOCOL_VERSION), hubId);
}

/** psk = KDF(xwingSharedSecret, LABEL_SESSION_PSK, 32). */
function sessionPsk(sharedSecret: Uint8Array): Uint8Array {
  return deriveKey(sharedSecret, LABEL_SESSION_PSK, 32);
}

/** Strips and checks the first byte: another version is 'unsupported', another type 'malformed'. */
function stripHeader(message: Uint8Array, type: SessionMessageType, where: string): Uint8Array {
  if (!(message instanceof Uint8Array) || message.length < HEADER_LEN) throw new CryptoError('malformed', where, 'empty message');
  const first = message[0] ?? 0;
  if (first >> 4 !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `session protocol version ${first >> 4}`);
  if ((first & 0x0f) !== type) throw new CryptoError('malformed', where, `message type ${first & 0x0f}, expected ${type}`);
  return message.subarray(HEADER_LEN);
}

/** Re-labels a Noise failure with the session's context, keeping its code. */
function rethrow(e: unknown, where: string): never {
  if (isCryptoError(e)) throw new CryptoError(e.code, where, e.message, { cause: e });
  throw new CryptoError('malformed', where, 'internal failure', { cause: e });
}

function checkLength(bytes: Uint8Array, length: number, where: string, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new CryptoError('malformed', where, `${what} must be ${length} bytes`);
}

// ---------------------------------------------------------------------------------------------
// Phone side

export interface StartSessionOptions {
  readonly device: DeviceIdentity;
  /** The hub's keys as pairing stored them. */
  readonly hub: HubPublicKeys;
  /**
   * Application payload for message 1. It is encrypted under es/ss only: confidential to the hub,
   * but neither forward secret nor post-quantum, and a relay can replay it. Leave it empty unless
   * that is acceptable; message 2 and transport messages have all three properties.
   */
  readonly payload?: Uint8Array;
}

export interface StartedSession {
  /** Send to the hub (relay envelope SESSION_1). */
  readonly message1: Uint8Array;
  /** Reads the hub's message 2; once only. 'tampered' if another hub, another PSK or a changed bit. */
  finish(message2: Uint8Array): { session: Session; payload: Uint8Array };
}

export function startSession(options: StartSessionOptions): StartedSession {
  const { device, hub } = options;
  const where = `startSession(hub=${toHex(hub.hubId ?? EMPTY).slice(0, 8)})`;
  checkLength(hub.hubId, ID_BYTES, where, 'hub id');
  checkLength(hub.exchangeKey, DH_BYTES, where, 'hub exchange key');
  checkLength(hub.pqKey, XWING_PUBLIC_BYTES, where, 'hub X-Wing key');
  const payload = options.payload ?? EMPTY;
  if (payload.length > MAX_MESSAGE1_PAYLOAD) throw new CryptoError('malformed', where, `payload of ${payload.length} bytes exceeds ${MAX_MESSAGE1_PAYLOAD}`);

  let kem: { ciphertext: Uint8Array; sharedSecret: Uint8Array };
  try {
    kem = sodium().crypto_kem_xwing_enc(hub.pqKey);
  } catch (cause) {
    throw new CryptoError('malformed', where, 'X-Wing encapsulation failed (bad hub X-Wing key)', { cause });
  }
  const psk = sessionPsk(kem.sharedSecret);
  wipe(kem.sharedSecret);

  let handshake: HandshakeState;
  let noise1: Uint8Array;
  try {
    handshake = createHandshake({
      pattern: SESSION_PATTERN,
      initiator: true,
      prologue: sessionPrologue(hub.hubId),
      staticKeyPair: device.exchange,
      remoteStatic: hub.exchangeKey,
      psk,
    });
    noise1 = handshake.writeMessage(concat(kem.ciphertext, payload));
  } catch (e) {
    rethrow(e, where);
  } finally {
    wipe(psk);
  }
  const message1 = concat(u8(sessionHeaderByte(SessionMessageType.HANDSHAKE_1)), noise1);

  return {
    message1,
    finish(message2: Uint8Array): { session: Session; payload: Uint8Array } {
      const at = `${where}.finish`;
      try {
        const body = stripHeader(message2, SessionMessageType.HANDSHAKE_2, at);
        const reply = handshake.readMessage(body);
        return { session: new Session('phone', handshake), payload: reply };
      } catch (e) {
        rethrow(e, at);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Hub side

export interface AcceptSessionOptions<D> {
  readonly hub: HubIdentity;
  readonly message1: Uint8Array;
  /**
   * Finds the enrolled, unrevoked device whose Noise static (X25519 exchange) key this is, or
   * undefined. Called only after message 1 authenticated, i.e. the sender proved it holds that key.
   */
  readonly lookupDevice: (exchangeKey: Uint8Array) => D | undefined;
}

export interface AcceptedSession<D> {
  /** What lookupDevice returned for the phone. */
  readonly device: D;
  /** The phone's X25519 exchange key (its Noise static key). */
  readonly exchangeKey: Uint8Array;
  /** Message 1's application payload: confidential, but not forward secret and replayable (see StartSessionOptions). */
  readonly payload: Uint8Array;
  /** Writes message 2 (relay envelope SESSION_2); once only. */
  respond(payload?: Uint8Array): { message2: Uint8Array; session: Session };
}

/**
 * Reads a phone's message 1. Fails with 'unsupported' (another version), 'malformed', 'tampered'
 * (not for this hub, or changed), or 'forbidden' (an authentic phone that is not on the roster).
 *
 * A relay can replay message 1: the hub then answers with a fresh ephemeral, and the session that
 * results is keyed by ee and se, which need the phone's ephemeral and static private keys, so the
 * relay can neither read nor write in it. The hub MUST keep using the phone's previous session
 * until the new one is `confirmed` (the first transport message from the phone authenticated).
 */
export function acceptSession<D>(options: AcceptSessionOptions<D>): AcceptedSession<D> {
  const { hub } = options;
  const where = `acceptSession(hub=${toHex(hub.hubId).slice(0, 8)})`;
  const body = stripHeader(options.message1, SessionMessageType.HANDSHAKE_1, where);

  let handshake: HandshakeState;
  let inner: Uint8Array;
  try {
    handshake = createHandshake({ pattern: SESSION_PATTERN, initiator: false, prologue: sessionPrologue(hub.hubId), staticKeyPair: hub.exchange });
    inner = handshake.readMessage(body);
  } catch (e) {
    rethrow(e, where);
  }
  const exchangeKey = handshake.remoteStaticKey;
  if (exchangeKey === undefined) throw new CryptoError('malformed', where, 'no phone static key after message 1'); // impossible in IK

  // Roster first: an unknown phone costs no decapsulation.
  const device = options.lookupDevice(exchangeKey.slice());
  if (device === undefined) throw new CryptoError('forbidden', `${where}(phone=${toHex(exchangeKey).slice(0, 8)})`, 'phone is not enrolled or was removed');

  if (inner.length < XWING_CIPHERTEXT_BYTES) {
    throw new CryptoError('malformed', where, `message 1 payload of ${inner.length} bytes has no X-Wing ciphertext`);
  }
  // X-Wing decapsulation never fails on a changed ciphertext (implicit rejection): it yields an
  // unrelated secret, so the PSKs differ and the phone's finish() fails with 'tampered'.
  const privateKey = pqPrivateKey(hub.pq);
  let sharedSecret: Uint8Array;
  try {
    sharedSecret = sodium().crypto_kem_xwing_dec(inner.subarray(0, XWING_CIPHERTEXT_BYTES), privateKey);
  } catch (cause) {
    throw new CryptoError('malformed', where, 'X-Wing decapsulation failed', { cause });
  } finally {
    wipe(privateKey);
  }
  const psk = sessionPsk(sharedSecret);
  wipe(sharedSecret);
  try {
    handshake.setPsk(psk);
  } catch (e) {
    rethrow(e, where);
  } finally {
    wipe(psk);
  }

  let responded = false;
  return {
    device,
    exchangeKey: exchangeKey.slice(),
    payload: inner.slice(XWING_CIPHERTEXT_BYTES),
    respond(payload: Uint8Array = EMPTY): { message2: Uint8Array; session: Session } {
      const at = `${where}.respond`;
      if (responded) throw new CryptoError('malformed', at, 'message 2 already written');
      if (payload.length > MAX_MESSAGE2_PAYLOAD) throw new CryptoError('malformed', at, `payload of ${payload.length} bytes exceeds ${MAX_MESSAGE2_PAYLOAD}`);
      responded = true;
      try {
        const noise2 = handshake.writeMessage(payload);
        return { message2: concat(u8(sessionHeaderByte(SessionMessageType.HANDSHAKE_2)), noise2), session: new Session('hub', handshake) };
      } catch (e) {
        rethrow(e, at);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Transport

/**
 * An established session. Keys live only in private CipherStates, so printing, inspecting or
 * JSON-serialising a Session shows a placeholder.
 */
export class Session {
  /** Which end this is. */
  readonly role: 'phone' | 'hub';
  readonly #handshakeHash: Uint8Array;
  readonly #tag: Uint8Array;
  readonly #send: CipherState;
  readonly #receive: CipherState;
  readonly #window = new ReplayWindow();
  #nextSeq = 0n;
  #confirmed: boolean;
  #closed = false;

  /** Internal: sessions come from startSession().finish or acceptSession().respond. */
  constructor(role: 'phone' | 'hub', completedHandshake: HandshakeState) {
    const { send, receive } = completedHandshake.split();
    this.role = role;
    this.#handshakeHash = completedHandshake.handshakeHash;
    this.#tag = sessionTag(this.#handshakeHash);
    this.#send = send;
    this.#receive = receive;
    // The phone has seen the hub prove its keys in message 2; the hub has not yet seen the phone
    // use the new keys (message 1 may be a replay).
    this.#confirmed = role === 'phone';
  }

  /** The Noise handshake hash: unique per session, the channel binding for anything signed inside. */
  get handshakeHash(): Uint8Array {
    return this.#handshakeHash.slice();
  }

  /** True once the peer proved it holds this session's keys (for the hub: a transport message opened). */
  get confirmed(): boolean {
    return this.#confirmed;
  }

  /** Sequence number the next `seal` uses. */
  get nextSequence(): bigint {
    return this.#nextSeq;
  }

  /** wire = u8 0x13 || tag || u64be seq || ChaChaPoly(send key, nonce(seq), ad = first 13 bytes, plaintext). */
  seal(plaintext: Uint8Array): Uint8Array {
    const where = `session.seal(${this.role}, seq=${this.#nextSeq})`;
    if (this.#closed) throw new CryptoError('expired', where, 'session closed');
    if (plaintext.length > MAX_SESSION_PLAINTEXT) throw new CryptoError('malformed', where, `plaintext of ${plaintext.length} bytes exceeds ${MAX_SESSION_PLAINTEXT}`);
    // A (key, nonce) pair is never used twice: refuse rather than wrap.
    if (this.#nextSeq > MAX_SEQUENCE) throw new CryptoError('expired', where, 'sequence numbers exhausted; start a new session');
    const seq = this.#nextSeq;
    const header = new Uint8Array(TRANSPORT_HEADER_LEN);
    header[0] = sessionHeaderByte(SessionMessageType.TRANSPORT);
    header.set(this.#tag, 1);
    new DataView(header.buffer).setBigUint64(1 + SESSION_TAG_LEN, seq);
    this.#nextSeq = seq + 1n; // before encrypting, so a failure cannot lead to a reused nonce
    try {
      return concat(header, this.#send.encryptAt(seq, header, plaintext));
    } catch (e) {
      rethrow(e, where);
    }
  }

  /**
   * Opens a transport message. 'not-for-me' for a message whose tag names another session;
   * 'replayed' for a sequence number already opened or behind the window; 'tampered' for any
   * changed bit; 'unsupported' for another protocol version. The window only moves after the
   * message authenticated.
   */
  open(message: Uint8Array): Uint8Array {
    let where = `session.open(${this.role})`;
    if (this.#closed) throw new CryptoError('expired', where, 'session closed');
    const body = stripHeader(message, SessionMessageType.TRANSPORT, where);
    if (message.length < TRANSPORT_HEADER_LEN + TAG_LEN) throw new CryptoError('malformed', where, `message of ${message.length} bytes is too short`);
    if (message.length > TRANSPORT_HEADER_LEN + MAX_MESSAGE_LEN) throw new CryptoError('malformed', where, `message of ${message.length} bytes is too long`);
    if (!this.sealedHere(message)) throw new CryptoError('not-for-me', where, 'a message of another session');
    const seq = new DataView(body.buffer, body.byteOffset, body.byteLength).getBigUint64(SESSION_TAG_LEN);
    where = `session.open(${this.role}, seq=${seq})`;
    if (seq > MAX_SEQUENCE) throw new CryptoError('malformed', where, 'sequence number no sender uses');
    if (!this.#window.wouldAccept(seq)) throw new CryptoError('replayed', where, 'sequence number already seen or too old');
    let plaintext: Uint8Array;
    try {
      plaintext = this.#receive.decryptAt(seq, message.subarray(0, TRANSPORT_HEADER_LEN), message.subarray(TRANSPORT_HEADER_LEN));
    } catch (e) {
      rethrow(e, where);
    }
    this.#window.commit(seq);
    this.#confirmed = true;
    return plaintext;
  }

  /** Whether a transport message's tag names this session (nothing authenticated yet). */
  sealedHere(message: Uint8Array): boolean {
    if (message.length < TRANSPORT_HEADER_LEN) return false;
    for (let i = 0; i < SESSION_TAG_LEN; i++) if (message[1 + i] !== this.#tag[i]) return false;
    return true;
  }

  /** Wipes the keys; every later seal or open fails. */
  close(): void {
    this.#closed = true;
    this.#send.destroy();
    this.#receive.destroy();
  }

  toString(): string {
    return `[vigil Session ${this.role}${this.#closed ? ' closed' : ''}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
