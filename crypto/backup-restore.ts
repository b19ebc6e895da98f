// Restore approved by owner phones (PROTOCOL §18.5): the new machine shows a one-time *restore
// invite* (QR and link, like a pairing invite), and each approving owner phone sends it, over a
// Noise IKpsk2 session keyed by that invite, its opened share of the owners' key and the sealed
// backup it keeps. The new machine has no hub identity yet (it is inside the backup), so the invite
// names a fresh X25519 key of its own; the phone's static key is its device exchange key, which the
// new machine checks against the backup's device rows once it has opened it.
import { concat, equalBytes, fromBase64url, toBase64url, u8, utf8 } from './bytes.ts';
import { decodeBackupShare, encodeBackupShare, type BackupShare } from './backup.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey, labeledHash } from './hash.ts';
import { DH_BYTES, ID_BYTES, type KeyPair } from './identity.ts';
import { MAX_INVITE_RELAYS, MAX_RELAY_URL_BYTES, checkRelayUrl } from './invite.ts';
import { LABEL_BACKUP, LABEL_RESTORE_PROLOGUE, LABEL_RESTORE_PSK, PROTOCOL_VERSION } from './labels.ts';
import { createHandshake, type CipherState, type HandshakeState } from './noise.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const RESTORE_LINK_PREFIX = 'vigil://restore/';
const RESTORE_SECRET_BYTES = 32;
const MAX_RESTORE_LINK_CHARS = 1400;
/** H("vigil v1 backup", 32, blob): names the backup a phone approves restoring. */
const BACKUP_HASH_BYTES = 32;
const SHARE_BYTES = 1 + ID_BYTES + 16 + 3 + 32;
/** approval = u8 version || hubId || deviceId || H(blob) || share */
const APPROVAL_BYTES = 1 + ID_BYTES + ID_BYTES + BACKUP_HASH_BYTES + SHARE_BYTES;
const TAG_BYTES = 16;
/** The answer a phone gets: small JSON. */
const MAX_ANSWER_BYTES = 512;

export interface RestoreInvite {
  /** The new machine's X25519 key for this restore only. */
  readonly restorerKey: Uint8Array;
  /** The relay mailbox phones post to. */
  readonly mailboxId: Uint8Array;
  readonly secret: Secret;
  readonly relays: readonly string[];
  /** Unix seconds. */
  readonly expiresAt: number;
}

/** A new invite and the private half of its key, which the new machine keeps in memory only. */
export function newRestoreInvite(opts: { relays: readonly string[]; now: number; ttlSeconds: number }): { invite: RestoreInvite; key: KeyPair } {
  if (!(opts.ttlSeconds > 0 && opts.ttlSeconds <= 3600)) throw new RangeError('restore invite lifetime must be 1 s to 1 h');
  if (opts.relays.length < 1 || opts.relays.length > MAX_INVITE_RELAYS) throw new RangeError(`1 to ${MAX_INVITE_RELAYS} relays`);
  const s = sodium();
  const kp = s.crypto_box_keypair();
  return {
    invite: {
      restorerKey: kp.publicKey,
      mailboxId: s.randombytes_buf(ID_BYTES),
      secret: new Secret(s.randombytes_buf(RESTORE_SECRET_BYTES), 'restore invite secret'),
      relays: opts.relays.map((u) => checkRelayUrl(u, 'newRestoreInvite')),
      expiresAt: Math.floor(opts.now) + Math.floor(opts.ttlSeconds),
    },
    key: { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, 'restore key') },
  };
}

/** invite = u8 version || restorerKey (32) || mailboxId (16) || secret (32) || u64 expiresAt || u8 count || text16 relay... */
export function formatRestoreLink(invite: RestoreInvite): string {
  const w = new Writer().u8(PROTOCOL_VERSION).fixed(invite.restorerKey, DH_BYTES).fixed(invite.mailboxId, ID_BYTES)
    .fixed(invite.secret.expose(), RESTORE_SECRET_BYTES).u64(BigInt(invite.expiresAt)).u8(invite.relays.length);
  for (const url of invite.relays) w.text16(url);
  return RESTORE_LINK_PREFIX + toBase64url(w.finish());
}

/** A pasted or scanned restore link; anything else is `malformed`, an expired one `expired`. */
export function parseRestoreLink(text: string, now: number): RestoreInvite {
  const where = 'parseRestoreLink';
  if (typeof text !== 'string' || text.length > MAX_RESTORE_LINK_CHARS) throw malformed(where, 'not a restore link');
  const trimmed = text.trim();
  if (!trimmed.startsWith(RESTORE_LINK_PREFIX)) throw malformed(where, `a restore link starts with ${RESTORE_LINK_PREFIX}`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(trimmed.slice(RESTORE_LINK_PREFIX.length));
  } catch {
    throw malformed(where, 'restore link payload is not base64url');
  }
  const r = new Reader(bytes, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `restore invite version ${version}`);
  const restorerKey = r.fixed(DH_BYTES, 'restorerKey');
  const mailboxId = r.fixed(ID_BYTES, 'mailboxId');
  const secret = new Secret(r.fixed(RESTORE_SECRET_BYTES, 'secret'), 'restore invite secret');
  const expires = r.u64('expiresAt');
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, 'expiry out of range');
  const count = r.u8('relayCount');
  if (count < 1 || count > MAX_INVITE_RELAYS) throw malformed(where, `${count} relays`);
  const relays: string[] = [];
  for (let i = 0; i < count; i++) relays.push(checkRelayUrl(r.text16('relay', MAX_RELAY_URL_BYTES), where));
  r.end();
  if (Number(expires) <= now) throw new CryptoError('expired', where, 'this restore invite has expired; start vigil restore again');
  return { restorerKey, mailboxId, secret, relays, expiresAt: Number(expires) };
}

function handshakeFor(invite: Pick<RestoreInvite, 'mailboxId' | 'secret'>, initiator: boolean, staticKeyPair: KeyPair, remoteStatic?: Uint8Array): HandshakeState {
  const psk = deriveKey(invite.secret.expose(), LABEL_RESTORE_PSK, 32);
  try {
    return createHandshake({
      pattern: 'IKpsk2',
      initiator,
      prologue: concat(utf8(LABEL_RESTORE_PROLOGUE), u8(PROTOCOL_VERSION), invite.mailboxId),
      staticKeyPair,
      ...(remoteStatic ? { remoteStatic } : {}),
      psk,
    });
  } finally {
    psk.fill(0);
  }
}

/** H("vigil v1 backup", 32, blob): what an approval names, so the blob beside it cannot be swapped. */
export function backupHash(blob: Uint8Array): Uint8Array {
  return labeledHash(LABEL_BACKUP, BACKUP_HASH_BYTES, blob);
}

export interface RestoreAnswer {
  /** accepted: the share counts (have of need); refused: it does not (reason); restored: done. */
  readonly state: 'accepted' | 'refused' | 'restored';
  readonly have: number;
  readonly need: number;
  readonly reason?: string;
  readonly hubId?: string;
}

// ---------------------------------------------------------------------------------------------
// The phone.

export interface PhoneRestoreApproval {
  /** RESTORE_1, posted to the invite's mailbox. */
  readonly message1: Uint8Array;
  /**
   * Reads RESTORE_2 (the new machine proved it holds the invite's key and secret) and gives
   * RESTORE_APPROVAL: the Noise-sealed approval followed by the sealed backup itself.
   */
  readMessage2(message2: Uint8Array): Uint8Array;
  /** Reads RESTORE_ANSWER. */
  readAnswer(message: Uint8Array): RestoreAnswer;
}

export function startRestoreApproval(opts: {
  invite: RestoreInvite;
  device: { deviceId: Uint8Array; exchange: KeyPair };
  hubId: Uint8Array;
  share: BackupShare;
  blob: Uint8Array;
}): PhoneRestoreApproval {
  const where = 'startRestoreApproval';
  if (!equalBytes(opts.share.hubId, opts.hubId)) throw new CryptoError('not-for-me', where, 'the share is of another hub');
  // Encoded now: the caller may wipe its share as soon as this returns.
  const share = encodeBackupShare(opts.share);
  const hash = backupHash(opts.blob);
  const handshake = handshakeFor(opts.invite, true, opts.device.exchange, opts.invite.restorerKey);
  const message1 = handshake.writeMessage(new Uint8Array(0));
  let receive: CipherState | undefined;
  return {
    message1,
    readMessage2(message2) {
      handshake.readMessage(message2);
      const split = handshake.split();
      receive = split.receive;
      const approval = new Writer().u8(PROTOCOL_VERSION).fixed(opts.hubId, ID_BYTES).fixed(opts.device.deviceId, ID_BYTES)
        .fixed(hash, BACKUP_HASH_BYTES).fixed(share, SHARE_BYTES).finish();
      share.fill(0);
      const sealed = split.send.encryptWithAd(new Uint8Array(0), approval);
      approval.fill(0);
      split.send.destroy();
      return concat(sealed, opts.blob);
    },
    readAnswer(message) {
      if (receive === undefined) throw malformed(where, 'an answer before message 2');
      if (message.length > MAX_ANSWER_BYTES + TAG_BYTES) throw malformed(where, 'answer too long');
      return readAnswerJson(receive.decryptWithAd(new Uint8Array(0), message));
    },
  };
}

function readAnswerJson(plain: Uint8Array): RestoreAnswer {
  const where = 'readRestoreAnswer';
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain)) as Record<string, unknown>;
  } catch {
    throw malformed(where, 'not JSON');
  }
  const state = v.state;
  if ((state !== 'accepted' && state !== 'refused' && state !== 'restored') || !Number.isSafeInteger(v.have) || !Number.isSafeInteger(v.need)) throw malformed(where, 'out of shape');
  return {
    state, have: v.have as number, need: v.need as number,
    ...(typeof v.reason === 'string' ? { reason: v.reason.slice(0, 200) } : {}),
    ...(typeof v.hubId === 'string' ? { hubId: v.hubId.slice(0, 64) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The new machine.

export interface ReceivedApproval {
  /** The phone's static key as the handshake proved it: its device exchange key. */
  readonly phoneKey: Uint8Array;
  readonly hubId: Uint8Array;
  readonly deviceId: Uint8Array;
  readonly share: BackupShare;
  readonly blob: Uint8Array;
}

export interface RestorerAttempt {
  /** RESTORE_2, to send back to the phone. */
  readonly message2: Uint8Array;
  /** Reads RESTORE_APPROVAL: the approval, its backup checked against the hash it names. */
  readApproval(body: Uint8Array): ReceivedApproval;
  /** RESTORE_ANSWER for this phone. */
  answer(a: RestoreAnswer): Uint8Array;
}

export function acceptRestoreApproval(invite: Pick<RestoreInvite, 'mailboxId' | 'secret'>, key: KeyPair, message1: Uint8Array): RestorerAttempt {
  const where = 'acceptRestoreApproval';
  const handshake = handshakeFor(invite, false, key);
  handshake.readMessage(message1);
  const phoneKey = handshake.remoteStaticKey;
  if (phoneKey === undefined) throw malformed(where, 'no static key');
  const message2 = handshake.writeMessage(new Uint8Array(0));
  const { send, receive } = handshake.split();
  let read = false;
  return {
    message2,
    readApproval(body) {
      if (read) throw malformed(where, 'a second approval in one session');
      read = true;
      if (body.length < APPROVAL_BYTES + TAG_BYTES) throw malformed(where, 'approval too short');
      const plain = receive.decryptWithAd(new Uint8Array(0), body.subarray(0, APPROVAL_BYTES + TAG_BYTES));
      const r = new Reader(plain, where);
      const version = r.u8('version');
      if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `approval version ${version}`);
      const hubId = r.fixed(ID_BYTES, 'hubId');
      const deviceId = r.fixed(ID_BYTES, 'deviceId');
      const hash = r.fixed(BACKUP_HASH_BYTES, 'backup hash');
      const share = decodeBackupShare(r.fixed(SHARE_BYTES, 'share'));
      r.end();
      plain.fill(0);
      // The blob travels beside the sealed approval (it is sealed itself, and may be larger than a
      // Noise message); the approval's hash of it binds the two.
      const blob = body.slice(APPROVAL_BYTES + TAG_BYTES);
      if (!equalBytes(backupHash(blob), hash)) throw new CryptoError('tampered', where, 'the backup beside the approval is not the one it names');
      if (!equalBytes(share.hubId, hubId)) throw malformed(where, 'the share names another hub than the approval');
      return { phoneKey, hubId, deviceId, share, blob };
    },
    answer(a) {
      const bytes = utf8(JSON.stringify(a));
      if (bytes.length > MAX_ANSWER_BYTES) throw malformed(where, 'answer too long');
      return send.encryptWithAd(new Uint8Array(0), bytes);
    },
  };
}
