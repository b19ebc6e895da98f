// What travels between a phone and its hub inside relay payloads (and on the hub's LAN endpoint,
// which speaks the same protocol). The relay sees only the first byte (the kind) and sizes; every
// body is a Noise message, a transport ciphertext, a sealed frame or an X-Wing envelope.
//
//   relay payload = u8 kind || body
//   session plaintext = u8 kind || body   (inside SESSION_DATA only)
import { concat, fromUtf8, u8, u64be, utf8 } from './bytes.ts';
import { unreachable } from '../lib/unreachable.ts';
import { malformed } from './errors.ts';
import { Reader } from './wire.ts';

export const Envelope = {
  /** phone -> hub mailbox: pairing message 1 */
  PAIR_1: 0x10,
  /** hub -> phone: pairing message 2 */
  PAIR_2: 0x11,
  /** phone -> hub mailbox: proof that the phone holds the invite secret */
  PAIR_CONFIRM: 0x12,
  /** hub -> phone: the certificate, or a refusal */
  PAIR_RESULT: 0x13,
  /** owner phone -> new machine's restore mailbox: restore approval handshake message 1 (PROTOCOL §18.5) */
  RESTORE_1: 0x14,
  /** new machine -> phone: restore handshake message 2 */
  RESTORE_2: 0x15,
  /** phone -> restore mailbox: its share (sealed in the session) and the sealed backup */
  RESTORE_APPROVAL: 0x16,
  /** new machine -> phone: whether the share counts, sealed in the session */
  RESTORE_ANSWER: 0x17,
  /** phone -> hub: session handshake message 1 */
  SESSION_1: 0x20,
  /** hub -> phone: session handshake message 2 */
  SESSION_2: 0x21,
  /** either way: a session transport message */
  SESSION_DATA: 0x22,
  /** hub -> phone: "no session with you": an unauthenticated hint to handshake again */
  SESSION_RESET: 0x23,
  /** hub -> phone: a key update sealed to the phone's X-Wing key (no session needed) */
  KEY_UPDATE_OFFLINE: 0x30,
  /** hub -> phone: a sealed frame sent directly (the init segment and latest GOP for a quick start) */
  FRAME: 0x31,
} as const;
export type EnvelopeKind = (typeof Envelope)[keyof typeof Envelope];

const ENVELOPE_KINDS = new Set<number>(Object.values(Envelope));
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

export function encodeEnvelope(kind: EnvelopeKind, body: Uint8Array): Uint8Array {
  return concat(u8(kind), body);
}

export function decodeEnvelope(payload: Uint8Array): { kind: EnvelopeKind; body: Uint8Array } {
  if (payload.length < 1) throw malformed('decodeEnvelope', 'empty');
  if (payload.length > MAX_ENVELOPE_BYTES) throw malformed('decodeEnvelope', 'too large');
  const kind = payload[0]!;
  if (!ENVELOPE_KINDS.has(kind)) throw malformed('decodeEnvelope', `unknown kind ${kind}`);
  return { kind: kind as EnvelopeKind, body: payload.subarray(1) };
}

// Inside a session.
export type SessionMessage =
  | { kind: 'command'; signed: Uint8Array }
  | { kind: 'result'; seq: bigint; ok: boolean; value: unknown }
  | { kind: 'key-update'; signed: Uint8Array }
  | { kind: 'notice'; value: Notice };

/** Hub-to-phone news that needs no request. */
export type Notice =
  | { type: 'removed' }
  | { type: 'camera-state'; camera: string; state: string; error?: string }
  | { type: 'cameras-changed' }
  /** The hub's LAN endpoints, for phones to try before the relay when at home. */
  | { type: 'paths'; lan: string[] }
  /** One chunk of a larger answer (a snapshot), base64; the command's result says how many. */
  | { type: 'blob'; id: string; index: number; data: string }
  /**
   * The hub's clock (Unix ms), every few seconds to phones that watch: with the `watch` result's
   * `hubTime`, how a phone tells live video from old (docs/PROTOCOL.md §11.4).
   */
  | { type: 'clock'; hubTime: number }
  /** The roster log grew to `length` entries: phones fetch what they have not checked (§16). */
  | { type: 'roster-changed'; length: number }
  /**
   * An event began, changed or ended (§17): its sealed record (crypto/event.ts, base64url, the
   * preview included), sent only to phones that hold its recording epoch's key.
   */
  | { type: 'event'; id: number; sealed: string };

const SESSION_KIND = { command: 1, result: 2, 'key-update': 3, notice: 4 } as const;
export const MAX_SESSION_JSON_BYTES = 60_000;

export function encodeSessionMessage(m: SessionMessage): Uint8Array {
  switch (m.kind) {
    case 'command':
      return concat(u8(SESSION_KIND.command), m.signed);
    case 'key-update':
      return concat(u8(SESSION_KIND['key-update']), m.signed);
    case 'result':
      return concat(u8(SESSION_KIND.result), u64be(m.seq), u8(m.ok ? 1 : 0), utf8(JSON.stringify(m.value ?? null)));
    case 'notice':
      return concat(u8(SESSION_KIND.notice), utf8(JSON.stringify(m.value)));
    default:
      return unreachable(m);
  }
}

export function decodeSessionMessage(plain: Uint8Array): SessionMessage {
  const where = 'decodeSessionMessage';
  const r = new Reader(plain, where);
  const kind = r.u8('kind');
  const json = (bytes: Uint8Array): unknown => {
    if (bytes.length > MAX_SESSION_JSON_BYTES) throw malformed(where, 'JSON too large');
    try {
      return JSON.parse(fromUtf8(bytes));
    } catch {
      throw malformed(where, 'not JSON');
    }
  };
  switch (kind) {
    case SESSION_KIND.command:
      return { kind: 'command', signed: r.rest() };
    case SESSION_KIND['key-update']:
      return { kind: 'key-update', signed: r.rest() };
    case SESSION_KIND.result: {
      const seq = r.u64('seq');
      const ok = r.u8('ok');
      if (ok > 1) throw malformed(where, 'ok flag');
      return { kind: 'result', seq, ok: ok === 1, value: json(r.rest()) };
    }
    case SESSION_KIND.notice: {
      const value = json(r.rest());
      if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
        throw malformed(where, 'notice without a type');
      }
      return { kind: 'notice', value: value as Notice };
    }
    default:
      throw malformed(where, `unknown session message kind ${kind}`);
  }
}
