// Constants of the relay wire protocol (relay/README.md quotes each one). Pure: no Node, no DOM, so
// the phone's web app bundles this file and codec.ts unchanged. Changing a label, a type number or
// a code number is a protocol version change.

/** The only wire version this build speaks; the first byte of every frame. */
export const RELAY_PROTOCOL_VERSION = 1;

/** The WebSocket path of the v1 protocol. */
export const RELAY_PATH = '/v1';

/** Domain-separation label that starts every login signature. */
export const LOGIN_LABEL = 'vigil relay login v1';
/** Domain-separation label that starts every capability signature. */
export const CAPABILITY_LABEL = 'vigil relay capability v1';

export const RELAY_ID_BYTES = 32; // an Ed25519 public key
export const SIGNATURE_BYTES = 64; // an Ed25519 signature
export const NONCE_BYTES = 32;
export const CONNECTION_ID_BYTES = 16;
export const MAILBOX_ID_BYTES = 16; // the invite id
export const TOPIC_ID_BYTES = 16; // one per camera
/** hubRelayId(32) || deviceRelayId(32) || rights(1) || expiresAt(8) || signature(64). */
export const CAPABILITY_BYTES = 32 + 32 + 1 + 8 + 64;
/** The most bytes a host string in a login message may have. */
export const MAX_HOST_BYTES = 255;

/** Capability rights bits. */
export const RIGHT_WATCH = 1;
export const RIGHT_COMMAND = 2;
export const KNOWN_RIGHTS = RIGHT_WATCH | RIGHT_COMMAND;

/** Publish flags. */
export const FLAG_KEYFRAME = 1;
export const FLAG_INIT = 2;
export const KNOWN_FLAGS = FLAG_KEYFRAME | FLAG_INIT;

/**
 * Frame type numbers. Client-to-relay types are 0x01-0x3f, relay-to-client types are 0x40-0x7f, so a
 * decoder for one direction rejects the other's frames by range.
 */
export const MESSAGE_TYPES = {
  login: 0x01,
  grant: 0x02,
  revoke: 0x03,
  'mailbox-open': 0x04,
  'mailbox-close': 0x05,
  'mailbox-post': 0x06,
  send: 0x07,
  publish: 0x08,
  subscribe: 0x09,
  unsubscribe: 0x0a,
  ping: 0x0b,

  challenge: 0x40,
  ready: 0x41,
  ok: 0x42,
  error: 0x43,
  message: 0x44,
  'mailbox-message': 0x45,
  media: 0x46,
  watchers: 0x47,
  unsubscribed: 0x48,
  pong: 0x49,
} as const;

export type MessageTypeName = keyof typeof MESSAGE_TYPES;

/**
 * Every error the relay reports, with its number. Codes 4000-4099 close the connection and the number
 * is the WebSocket close code; codes 4100-4199 travel in an `error` frame and the connection stays.
 * 'too-large' is the one exception in how it shows: ws closes an oversized frame itself with 1009
 * (RFC 6455 "message too big") before the relay sees it, so clients map 1009 to 'too-large'.
 */
export const RELAY_ERROR_CODES = {
  'bad-frame': 4000, // bytes that do not decode, a text frame, a relay-to-client type from a client
  'unsupported-version': 4001, // a first byte other than RELAY_PROTOCOL_VERSION
  'auth-failed': 4002, // login signature does not verify for this challenge and host
  'auth-timeout': 4003, // no valid login within authTimeoutMs
  'not-logged-in': 4004, // any frame other than login before login
  'too-large': 4005, // a frame over maxMessageBytes (seen by clients as close code 1009)
  'too-many-connections': 4006, // over maxConnectionsPerAddress or maxConnections
  replaced: 4007, // the same relay id logged in on a newer connection
  'slow-consumer': 4008, // outgoing queue over queueBytes + controlSlackBytes
  'idle-timeout': 4009, // no pong within idleTimeoutMs (the socket is terminated: clients see 1006)
  'shutting-down': 4010, // the relay is stopping

  'no-capability': 4100, // no valid capability allows this send or subscribe
  offline: 4101, // the target relay id has no connection
  'mailbox-closed': 4102, // no open, unexpired mailbox with this id
  'mailbox-full': 4103, // the mailbox has had maxMailboxPosts posts
  'mailbox-taken': 4104, // another hub opened this mailbox id
  'bad-capability': 4105, // signature does not verify, or hubRelayId is not the sender
  expired: 4106, // a capability or mailbox expiry not in the future, or too far
  'limit-reached': 4107, // subscriptions, mailboxes or capabilities at their limit
  'rate-limited': 4108, // over maxMessagesPerSecond; the frame was dropped
  'queue-full': 4109, // the target's outgoing queue is full; the direct message was dropped
  'bad-request': 4110, // well-formed but meaningless: login twice, send to self, etc.
} as const;

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** Codes whose number is the close code of the connection they end. */
export function closesConnection(code: RelayErrorCode): boolean {
  return RELAY_ERROR_CODES[code] < 4100;
}

const CODE_BY_NUMBER = new Map<number, RelayErrorCode>(
  (Object.entries(RELAY_ERROR_CODES) as [RelayErrorCode, number][]).map(([name, n]) => [n, name]),
);

/** The code for a wire number or close code, or undefined when it is not one of ours. */
export function relayErrorCodeFromNumber(n: number): RelayErrorCode | undefined {
  if (n === 1009) return 'too-large';
  return CODE_BY_NUMBER.get(n);
}
