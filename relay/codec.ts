// The relay wire codec: one canonical byte layout per message, shared by the relay, the hub's client
// and the phone's client. relay/README.md is its spec; every check below is a MUST there. Pure: no
// Node, no DOM. Decoded byte fields are views into the input (no copies): copy one before keeping it
// past the input's lifetime if the input buffer may be reused.

import { ByteReader, ByteWriter, describeFault, type ByteFault } from '../lib/bytes.ts';
import {
  CAPABILITY_BYTES,
  CAPABILITY_LABEL,
  CONNECTION_ID_BYTES,
  KNOWN_FLAGS,
  KNOWN_RIGHTS,
  LOGIN_LABEL,
  MAILBOX_ID_BYTES,
  MAX_HOST_BYTES,
  MESSAGE_TYPES,
  NONCE_BYTES,
  RELAY_ERROR_CODES,
  RELAY_ID_BYTES,
  RELAY_PROTOCOL_VERSION,
  SIGNATURE_BYTES,
  TOPIC_ID_BYTES,
  relayErrorCodeFromNumber,
  type MessageTypeName,
  type RelayErrorCode,
} from './constants.ts';

export * from './constants.ts';

// ---------------------------------------------------------------------------------------------------
// Errors

export type RelayProtocolErrorCode =
  | 'truncated' // fewer bytes than the layout needs
  | 'trailing-bytes' // bytes left after the last field
  | 'unknown-type' // a type number this version does not define
  | 'wrong-direction' // a relay-to-client type where a client-to-relay one belongs, or the reverse
  | 'unsupported-version' // a first byte other than RELAY_PROTOCOL_VERSION
  | 'bad-value'; // a field out of range: unknown bits, an unknown code, a u64 over 2^53-1, a bad length

/** A frame that does not decode, or a value that cannot be encoded. Never carries payload bytes. */
export class RelayProtocolError extends Error {
  readonly code: RelayProtocolErrorCode;

  constructor(code: RelayProtocolErrorCode, detail: string) {
    super(`relay codec: ${code}: ${detail}`);
    this.name = 'RelayProtocolError';
    this.code = code;
  }

  /** The relay error (and close code) this failure is reported as. */
  get relayCode(): RelayErrorCode {
    return this.code === 'unsupported-version' ? 'unsupported-version' : 'bad-frame';
  }
}

// ---------------------------------------------------------------------------------------------------
// Values

export type Signer = (message: Uint8Array) => Uint8Array;

export interface CapabilityFields {
  hubRelayId: Uint8Array; // 32
  deviceRelayId: Uint8Array; // 32
  rights: number; // non-zero subset of RIGHT_WATCH | RIGHT_COMMAND
  expiresAt: number; // unix seconds, integer 0..2^53-1
}

export interface Capability extends CapabilityFields {
  signature: Uint8Array; // 64, by the hub relay key over capabilitySigningMessage(fields)
}

export type ClientMessage =
  | { type: 'login'; publicKey: Uint8Array; signature: Uint8Array }
  | { type: 'grant'; requestId: number; capability: Capability }
  | { type: 'revoke'; requestId: number; deviceRelayId: Uint8Array }
  | { type: 'mailbox-open'; requestId: number; mailboxId: Uint8Array; expiresAt: number }
  | { type: 'mailbox-close'; requestId: number; mailboxId: Uint8Array }
  | { type: 'mailbox-post'; requestId: number; mailboxId: Uint8Array; payload: Uint8Array }
  | { type: 'send'; requestId: number; to: Uint8Array; payload: Uint8Array }
  | { type: 'publish'; requestId: number; topicId: Uint8Array; flags: number; payload: Uint8Array }
  | { type: 'subscribe'; requestId: number; hubRelayId: Uint8Array; topicId: Uint8Array }
  | { type: 'unsubscribe'; requestId: number; hubRelayId: Uint8Array; topicId: Uint8Array }
  | { type: 'ping'; requestId: number };

export type ServerMessage =
  | { type: 'challenge'; nonce: Uint8Array; connectionId: Uint8Array }
  | { type: 'ready'; relayId: Uint8Array; maxMessageBytes: number }
  | { type: 'ok'; requestId: number }
  | { type: 'error'; requestId: number; code: RelayErrorCode }
  | { type: 'message'; from: Uint8Array; payload: Uint8Array }
  | { type: 'mailbox-message'; mailboxId: Uint8Array; from: Uint8Array; payload: Uint8Array }
  | {
      type: 'media';
      hubRelayId: Uint8Array;
      topicId: Uint8Array;
      flags: number;
      dropped: number;
      payload: Uint8Array;
    }
  | { type: 'watchers'; topicId: Uint8Array; count: number }
  | { type: 'unsubscribed'; hubRelayId: Uint8Array; topicId: Uint8Array; code: RelayErrorCode }
  | { type: 'pong'; requestId: number };

export type RelayMessage = ClientMessage | ServerMessage;

/** Bytes a frame adds around its payload, at most (media: 2 + 32 + 16 + 1 + 4 + 4). */
export const MAX_FRAME_OVERHEAD = 59;

// ---------------------------------------------------------------------------------------------------
// Writer and reader

const utf8 = new TextEncoder();

/** A fault of the shared reader or writer (lib/bytes.ts) as this codec's typed error. */
function codecError(fault: ByteFault): RelayProtocolError {
  switch (fault.kind) {
    case 'truncated':
      return new RelayProtocolError('truncated', `${fault.field} needs ${fault.need} bytes`);
    case 'trailing':
      return new RelayProtocolError('trailing-bytes', `${fault.count} bytes after the last field`);
    default:
      return new RelayProtocolError('bad-value', describeFault(fault));
  }
}

/** Writes a frame of a size computed beforehand, in place: no growth, no copy at the end. */
function writer(size: number): ByteWriter {
  return new ByteWriter({ capacity: size, exact: true, fail: codecError });
}

/** Byte fields are views into the input (see the top of this file). */
function reader(bytes: Uint8Array): ByteReader {
  return new ByteReader(bytes, { copy: false, fail: codecError });
}

// ---------------------------------------------------------------------------------------------------
// Capability

function checkRights(rights: number): void {
  if (!Number.isInteger(rights) || rights === 0 || (rights & ~KNOWN_RIGHTS) !== 0 || rights > 0xff) {
    throw new RelayProtocolError('bad-value', 'rights must be a non-zero set of known bits');
  }
}

function writeCapabilityFields(w: ByteWriter, c: CapabilityFields): ByteWriter {
  checkRights(c.rights);
  return w
    .fixed(c.hubRelayId, RELAY_ID_BYTES, 'hubRelayId')
    .fixed(c.deviceRelayId, RELAY_ID_BYTES, 'deviceRelayId')
    .u8(c.rights, 'rights')
    .u64Safe(c.expiresAt, 'expiresAt');
}

/** The bytes a hub signs: CAPABILITY_LABEL || hubRelayId || deviceRelayId || rights || expiresAt. */
export function capabilitySigningMessage(c: CapabilityFields): Uint8Array {
  const label = utf8.encode(CAPABILITY_LABEL);
  const w = writer(label.length + CAPABILITY_BYTES - SIGNATURE_BYTES);
  w.fixed(label, label.length, 'label');
  return writeCapabilityFields(w, c).finish();
}

/** Signs the fields with the hub relay key (libsodium crypto_sign_detached, or any Ed25519 signer). */
export function signCapability(fields: CapabilityFields, sign: Signer): Capability {
  const signature = sign(capabilitySigningMessage(fields));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new RelayProtocolError('bad-value', 'signer must return a 64-byte signature');
  }
  return {
    hubRelayId: fields.hubRelayId.slice(),
    deviceRelayId: fields.deviceRelayId.slice(),
    rights: fields.rights,
    expiresAt: fields.expiresAt,
    signature: signature.slice(),
  };
}

/** The 137-byte capability: hubRelayId || deviceRelayId || rights || expiresAt || signature. */
export function encodeCapability(c: Capability): Uint8Array {
  const w = writer(CAPABILITY_BYTES);
  writeCapabilityFields(w, c);
  return w.fixed(c.signature, SIGNATURE_BYTES, 'signature').finish();
}

function readCapability(r: ByteReader): Capability {
  const hubRelayId = r.fixed(RELAY_ID_BYTES, 'hubRelayId');
  const deviceRelayId = r.fixed(RELAY_ID_BYTES, 'deviceRelayId');
  const rights = r.u8('rights');
  checkRights(rights);
  const expiresAt = r.u64Safe('expiresAt');
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  return { hubRelayId, deviceRelayId, rights, expiresAt, signature };
}

export function decodeCapability(bytes: Uint8Array): Capability {
  const r = reader(bytes);
  const c = readCapability(r);
  r.end();
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Login

/**
 * The bytes a client signs to log in:
 * LOGIN_LABEL || nonce(32) || connectionId(16) || u8 hostLength || host (UTF-8),
 * where host is the URL host the client believes it connects to (`new URL(url).host`: lowercase,
 * with the port unless it is the scheme's default). Binding nonce, connection id and host means a
 * login answers only this challenge on this relay.
 */
export function loginMessage(nonce: Uint8Array, connectionId: Uint8Array, host: string): Uint8Array {
  const label = utf8.encode(LOGIN_LABEL);
  const hostBytes = utf8.encode(host.toLowerCase());
  if (hostBytes.length === 0 || hostBytes.length > MAX_HOST_BYTES) {
    throw new RelayProtocolError('bad-value', `host must be 1..${MAX_HOST_BYTES} bytes`);
  }
  return writer(label.length + NONCE_BYTES + CONNECTION_ID_BYTES + 1 + hostBytes.length)
    .fixed(label, label.length, 'label')
    .fixed(nonce, NONCE_BYTES, 'nonce')
    .fixed(connectionId, CONNECTION_ID_BYTES, 'connectionId')
    .u8(hostBytes.length, 'host length')
    .fixed(hostBytes, hostBytes.length, 'host')
    .finish();
}

// ---------------------------------------------------------------------------------------------------
// Frames

const HEADER = 2; // version(1) || type(1)
const TYPE_NAMES = new Map<number, MessageTypeName>(
  (Object.entries(MESSAGE_TYPES) as [MessageTypeName, number][]).map(([name, n]) => [n, name]),
);

function header(type: MessageTypeName, bodyBytes: number): ByteWriter {
  return writer(HEADER + bodyBytes).u8(RELAY_PROTOCOL_VERSION, 'version').u8(MESSAGE_TYPES[type], 'type');
}

/** Bytes in front of a publish message's payload: version, type, requestId, topicId, flags, length. */
export const PUBLISH_HEADER_BYTES = HEADER + 4 + TOPIC_ID_BYTES + 1 + 4;

/**
 * Writes a publish header in front of a payload that is already in place: `message` is the whole
 * message, its payload the bytes after PUBLISH_HEADER_BYTES. The same bytes as encodeMessage of a
 * publish with requestId 0, without copying the payload: the hub seals each fragment straight into
 * its send buffer behind this header (main/hub-links.ts).
 */
export function writePublishHeader(message: Uint8Array, topicId: Uint8Array, flags: number): void {
  if (message.length < PUBLISH_HEADER_BYTES) throw new RelayProtocolError('bad-value', 'publish message shorter than its header');
  if (!(topicId instanceof Uint8Array) || topicId.length !== TOPIC_ID_BYTES) {
    throw new RelayProtocolError('bad-value', `topicId must be ${TOPIC_ID_BYTES} bytes`);
  }
  checkFlags(flags);
  const view = new DataView(message.buffer, message.byteOffset, PUBLISH_HEADER_BYTES);
  view.setUint8(0, RELAY_PROTOCOL_VERSION);
  view.setUint8(1, MESSAGE_TYPES.publish);
  view.setUint32(HEADER, 0); // requestId: publish is never answered
  message.set(topicId, HEADER + 4);
  view.setUint8(HEADER + 4 + TOPIC_ID_BYTES, flags);
  view.setUint32(HEADER + 4 + TOPIC_ID_BYTES + 1, message.length - PUBLISH_HEADER_BYTES);
}

function lengthOf(b: Uint8Array): number {
  if (!(b instanceof Uint8Array)) throw new RelayProtocolError('bad-value', 'payload must be bytes');
  return b.length;
}

function checkFlags(flags: number): void {
  if (!Number.isInteger(flags) || (flags & ~KNOWN_FLAGS) !== 0 || flags < 0 || flags > 0xff) {
    throw new RelayProtocolError('bad-value', 'flags must be a set of known bits');
  }
}

function errorNumber(code: RelayErrorCode): number {
  const n = RELAY_ERROR_CODES[code] as number | undefined;
  if (n === undefined) throw new RelayProtocolError('bad-value', 'unknown error code');
  return n;
}

function readErrorCode(r: ByteReader, what: string): RelayErrorCode {
  const n = r.u16(what);
  const code = n === 1009 ? undefined : relayErrorCodeFromNumber(n);
  if (code === undefined) throw new RelayProtocolError('bad-value', `${what} ${n} is not a relay error code`);
  return code;
}

/** Encodes any message of either direction into one canonical frame. */
export function encodeMessage(m: RelayMessage): Uint8Array {
  switch (m.type) {
    case 'login':
      return header(m.type, RELAY_ID_BYTES + SIGNATURE_BYTES)
        .fixed(m.publicKey, RELAY_ID_BYTES, 'publicKey')
        .fixed(m.signature, SIGNATURE_BYTES, 'signature')
        .finish();
    case 'grant': {
      const w = header(m.type, 4 + CAPABILITY_BYTES).u32(m.requestId, 'requestId');
      writeCapabilityFields(w, m.capability);
      return w.fixed(m.capability.signature, SIGNATURE_BYTES, 'signature').finish();
    }
    case 'revoke':
      return header(m.type, 4 + RELAY_ID_BYTES)
        .u32(m.requestId, 'requestId')
        .fixed(m.deviceRelayId, RELAY_ID_BYTES, 'deviceRelayId')
        .finish();
    case 'mailbox-open':
      return header(m.type, 4 + MAILBOX_ID_BYTES + 8)
        .u32(m.requestId, 'requestId')
        .fixed(m.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
        .u64Safe(m.expiresAt, 'expiresAt')
        .finish();
    case 'mailbox-close':
      return header(m.type, 4 + MAILBOX_ID_BYTES)
        .u32(m.requestId, 'requestId')
        .fixed(m.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
        .finish();
    case 'mailbox-post':
      return header(m.type, 4 + MAILBOX_ID_BYTES + 4 + lengthOf(m.payload))
        .u32(m.requestId, 'requestId')
        .fixed(m.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'send':
      return header(m.type, 4 + RELAY_ID_BYTES + 4 + lengthOf(m.payload))
        .u32(m.requestId, 'requestId')
        .fixed(m.to, RELAY_ID_BYTES, 'to')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'publish':
      checkFlags(m.flags);
      return header(m.type, 4 + TOPIC_ID_BYTES + 1 + 4 + lengthOf(m.payload))
        .u32(m.requestId, 'requestId')
        .fixed(m.topicId, TOPIC_ID_BYTES, 'topicId')
        .u8(m.flags, 'flags')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'subscribe':
    case 'unsubscribe':
      return header(m.type, 4 + RELAY_ID_BYTES + TOPIC_ID_BYTES)
        .u32(m.requestId, 'requestId')
        .fixed(m.hubRelayId, RELAY_ID_BYTES, 'hubRelayId')
        .fixed(m.topicId, TOPIC_ID_BYTES, 'topicId')
        .finish();
    case 'ping':
    case 'ok':
    case 'pong':
      return header(m.type, 4).u32(m.requestId, 'requestId').finish();
    case 'challenge':
      return header(m.type, NONCE_BYTES + CONNECTION_ID_BYTES)
        .fixed(m.nonce, NONCE_BYTES, 'nonce')
        .fixed(m.connectionId, CONNECTION_ID_BYTES, 'connectionId')
        .finish();
    case 'ready':
      return header(m.type, RELAY_ID_BYTES + 4)
        .fixed(m.relayId, RELAY_ID_BYTES, 'relayId')
        .u32(m.maxMessageBytes, 'maxMessageBytes')
        .finish();
    case 'error':
      return header(m.type, 4 + 2).u32(m.requestId, 'requestId').u16(errorNumber(m.code), 'code').finish();
    case 'message':
      return header(m.type, RELAY_ID_BYTES + 4 + lengthOf(m.payload))
        .fixed(m.from, RELAY_ID_BYTES, 'from')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'mailbox-message':
      return header(m.type, MAILBOX_ID_BYTES + RELAY_ID_BYTES + 4 + lengthOf(m.payload))
        .fixed(m.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
        .fixed(m.from, RELAY_ID_BYTES, 'from')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'media':
      checkFlags(m.flags);
      return header(m.type, RELAY_ID_BYTES + TOPIC_ID_BYTES + 1 + 4 + 4 + lengthOf(m.payload))
        .fixed(m.hubRelayId, RELAY_ID_BYTES, 'hubRelayId')
        .fixed(m.topicId, TOPIC_ID_BYTES, 'topicId')
        .u8(m.flags, 'flags')
        .u32(m.dropped, 'dropped')
        .bytes32(m.payload, 'payload')
        .finish();
    case 'watchers':
      return header(m.type, TOPIC_ID_BYTES + 4)
        .fixed(m.topicId, TOPIC_ID_BYTES, 'topicId')
        .u32(m.count, 'count')
        .finish();
    case 'unsubscribed':
      return header(m.type, RELAY_ID_BYTES + TOPIC_ID_BYTES + 2)
        .fixed(m.hubRelayId, RELAY_ID_BYTES, 'hubRelayId')
        .fixed(m.topicId, TOPIC_ID_BYTES, 'topicId')
        .u16(errorNumber(m.code), 'code')
        .finish();
    default:
      return unknownMessage(m);
  }
}

function unknownMessage(m: never): never {
  throw new RelayProtocolError('bad-value', `unknown message type ${String((m as { type?: unknown }).type)}`);
}

function readBody(type: MessageTypeName, r: ByteReader): RelayMessage {
  switch (type) {
    case 'login':
      return { type, publicKey: r.fixed(RELAY_ID_BYTES, 'publicKey'), signature: r.fixed(SIGNATURE_BYTES, 'signature') };
    case 'grant':
      return { type, requestId: r.u32('requestId'), capability: readCapability(r) };
    case 'revoke':
      return { type, requestId: r.u32('requestId'), deviceRelayId: r.fixed(RELAY_ID_BYTES, 'deviceRelayId') };
    case 'mailbox-open':
      return {
        type,
        requestId: r.u32('requestId'),
        mailboxId: r.fixed(MAILBOX_ID_BYTES, 'mailboxId'),
        expiresAt: r.u64Safe('expiresAt'),
      };
    case 'mailbox-close':
      return { type, requestId: r.u32('requestId'), mailboxId: r.fixed(MAILBOX_ID_BYTES, 'mailboxId') };
    case 'mailbox-post':
      return {
        type,
        requestId: r.u32('requestId'),
        mailboxId: r.fixed(MAILBOX_ID_BYTES, 'mailboxId'),
        payload: r.bytes32('payload'),
      };
    case 'send':
      return { type, requestId: r.u32('requestId'), to: r.fixed(RELAY_ID_BYTES, 'to'), payload: r.bytes32('payload') };
    case 'publish': {
      const requestId = r.u32('requestId');
      const topicId = r.fixed(TOPIC_ID_BYTES, 'topicId');
      const flags = r.u8('flags');
      checkFlags(flags);
      return { type, requestId, topicId, flags, payload: r.bytes32('payload') };
    }
    case 'subscribe':
    case 'unsubscribe':
      return {
        type,
        requestId: r.u32('requestId'),
        hubRelayId: r.fixed(RELAY_ID_BYTES, 'hubRelayId'),
        topicId: r.fixed(TOPIC_ID_BYTES, 'topicId'),
      };
    case 'ping':
    case 'ok':
    case 'pong':
      return { type, requestId: r.u32('requestId') };
    case 'challenge':
      return { type, nonce: r.fixed(NONCE_BYTES, 'nonce'), connectionId: r.fixed(CONNECTION_ID_BYTES, 'connectionId') };
    case 'ready':
      return { type, relayId: r.fixed(RELAY_ID_BYTES, 'relayId'), maxMessageBytes: r.u32('maxMessageBytes') };
    case 'error':
      return { type, requestId: r.u32('requestId'), code: readErrorCode(r, 'code') };
    case 'message':
      return { type, from: r.fixed(RELAY_ID_BYTES, 'from'), payload: r.bytes32('payload') };
    case 'mailbox-message':
      return {
        type,
        mailboxId: r.fixed(MAILBOX_ID_BYTES, 'mailboxId'),
        from: r.fixed(RELAY_ID_BYTES, 'from'),
        payload: r.bytes32('payload'),
      };
    case 'media': {
      const hubRelayId = r.fixed(RELAY_ID_BYTES, 'hubRelayId');
      const topicId = r.fixed(TOPIC_ID_BYTES, 'topicId');
      const flags = r.u8('flags');
      checkFlags(flags);
      return { type, hubRelayId, topicId, flags, dropped: r.u32('dropped'), payload: r.bytes32('payload') };
    }
    case 'watchers':
      return { type, topicId: r.fixed(TOPIC_ID_BYTES, 'topicId'), count: r.u32('count') };
    case 'unsubscribed':
      return {
        type,
        hubRelayId: r.fixed(RELAY_ID_BYTES, 'hubRelayId'),
        topicId: r.fixed(TOPIC_ID_BYTES, 'topicId'),
        code: readErrorCode(r, 'code'),
      };
    default:
      return unknownMessage(type);
  }
}

/** Decodes one frame of either direction. Throws RelayProtocolError on anything not canonical. */
export function decodeMessage(bytes: Uint8Array): RelayMessage {
  if (!(bytes instanceof Uint8Array)) throw new RelayProtocolError('bad-value', 'a frame must be bytes');
  const r = reader(bytes);
  const version = r.u8('version');
  if (version !== RELAY_PROTOCOL_VERSION) {
    throw new RelayProtocolError('unsupported-version', `version ${version}`);
  }
  const typeNumber = r.u8('type');
  const type = TYPE_NAMES.get(typeNumber);
  if (type === undefined) throw new RelayProtocolError('unknown-type', `type 0x${typeNumber.toString(16)}`);
  const m = readBody(type, r);
  r.end();
  return m;
}

function isClientType(type: MessageTypeName): boolean {
  return MESSAGE_TYPES[type] < 0x40;
}

/** Decodes a frame a client sent; relay-to-client types are refused. */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  const m = decodeMessage(bytes);
  if (!isClientType(m.type)) throw new RelayProtocolError('wrong-direction', `${m.type} from a client`);
  return m as ClientMessage;
}

/** Decodes a frame the relay sent; client-to-relay types are refused. */
export function decodeServerMessage(bytes: Uint8Array): ServerMessage {
  const m = decodeMessage(bytes);
  if (isClientType(m.type)) throw new RelayProtocolError('wrong-direction', `${m.type} from the relay`);
  return m as ServerMessage;
}

// ---------------------------------------------------------------------------------------------------
// Small helpers shared by relay and clients

/** Lowercase hex, for map keys. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** The first 8 hex digits of a relay id: all that logs ever show of one. */
export function shortId(b: Uint8Array): string {
  return toHex(b.subarray(0, 4));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
