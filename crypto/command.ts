// Commands from a phone to its hub (list cameras, watch, snapshot, PTZ, settings). Each one is signed
// by the phone's device key and names the hub, a sequence number and its issue time, so a command
// the relay forges, replays, or delivers to another hub is refused, and so is one from a revoked
// phone or from a role that may not do it. The hub-side check is the pure function
// `authorizeCommand`; the hub keeps the last sequence number per device.
import { concat, equalBytes, utf8, fromUtf8, toHex } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { ID_BYTES, sign, verify, type DeviceIdentity } from './identity.ts';
import { LABEL_COMMAND, PROTOCOL_VERSION } from './labels.ts';
import type { Role } from './certificate.ts';
import { Reader, Writer } from './wire.ts';

export const ACTIONS = [
  'list-cameras', 'watch', 'unwatch', 'snapshot', 'ptz', 'settings', 'recording-keys', 'recordings', 'segment', 'roster-log',
  'device-certificate', 'share-history', 'events', 'event-image',
  'push-subscribe', 'push-unsubscribe', 'push-settings', 'backup',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Which role may do what: viewers watch; only owners steer cameras or change settings. */
export const ROLE_ALLOWS: Record<Role, readonly Action[]> = {
  owner: ACTIONS,
  viewer: ['list-cameras', 'watch', 'unwatch', 'snapshot', 'recording-keys', 'recordings', 'segment', 'roster-log', 'events', 'event-image', 'push-subscribe', 'push-unsubscribe', 'push-settings'],
  // Live only, its own cameras (main/phones/scope.ts checks which); the roster log, to check its keys.
  guest: ['list-cameras', 'watch', 'unwatch', 'snapshot', 'roster-log'],
};

export const MAX_COMMAND_ARGS_BYTES = 4096;
/** share-history carries sealed epoch seeds (about 1.6 kB of base64 each): a few dozen fit one session message. */
export const MAX_SHARE_HISTORY_ARGS_BYTES = 40 * 1024;

/** The most argument bytes an action's command may carry. */
export function maxArgsBytes(action: string): number {
  return action === 'share-history' ? MAX_SHARE_HISTORY_ARGS_BYTES : MAX_COMMAND_ARGS_BYTES;
}
export const DEFAULT_MAX_COMMAND_AGE_MS = 60_000;
export const DEFAULT_CLOCK_SKEW_MS = 30_000;

export interface Command {
  readonly version: number;
  readonly hubId: Uint8Array;
  readonly deviceId: Uint8Array;
  readonly seq: bigint;
  /** Unix milliseconds. */
  readonly issuedAt: number;
  readonly action: Action;
  /** JSON arguments, bounded. */
  readonly args: unknown;
}

function isAction(a: string): a is Action {
  return (ACTIONS as readonly string[]).includes(a);
}

function body(c: Omit<Command, 'version'>): Uint8Array {
  const args = utf8(JSON.stringify(c.args ?? null));
  if (args.length > maxArgsBytes(c.action)) throw new RangeError('command arguments too large');
  return new Writer()
    .u8(PROTOCOL_VERSION)
    .fixed(c.hubId, ID_BYTES)
    .fixed(c.deviceId, ID_BYTES)
    .u64(c.seq)
    .u64(BigInt(c.issuedAt))
    .text16(c.action)
    .bytes16(args)
    .finish();
}

/** wire = body || Ed25519(device, LABEL_COMMAND || body) */
export function signCommand(device: DeviceIdentity, c: { hubId: Uint8Array; seq: bigint; issuedAt: number; action: Action; args?: unknown }): Uint8Array {
  const b = body({ ...c, deviceId: device.deviceId, args: c.args ?? null });
  return concat(b, sign(device.signing, concat(utf8(LABEL_COMMAND), b)));
}

export function decodeCommand(wire: Uint8Array): { command: Command; signed: Uint8Array; signature: Uint8Array } {
  const where = 'decodeCommand';
  if (wire.length < 64 + 1) throw malformed(where, 'too short');
  const signed = wire.subarray(0, wire.length - 64);
  const signature = wire.subarray(wire.length - 64);
  const r = new Reader(signed, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const deviceId = r.fixed(ID_BYTES, 'deviceId');
  const seq = r.u64('seq');
  const issuedAt = Number(r.u64('issuedAt'));
  const action = r.text16('action', 32);
  const argsBytes = r.bytes16('args', maxArgsBytes(action));
  r.end();
  if (!isAction(action)) throw malformed(where, 'unknown action');
  let args: unknown;
  try {
    args = JSON.parse(fromUtf8(argsBytes));
  } catch {
    throw malformed(where, 'arguments are not JSON');
  }
  return { command: { version, hubId, deviceId, seq, issuedAt, action, args }, signed, signature };
}

export interface RosterDevice {
  readonly signingKey: Uint8Array;
  readonly role: Role;
  readonly revoked: boolean;
}

export interface CommandContext {
  readonly hubId: Uint8Array;
  /** The roster as the hub knows it now. */
  readonly lookupDevice: (deviceId: Uint8Array) => RosterDevice | undefined;
  /** Highest sequence number accepted so far from this device (-1n if none). */
  readonly lastSeq: (deviceId: Uint8Array) => bigint;
  /** If the command came through a session, the device that session authenticated. */
  readonly sessionDeviceId?: Uint8Array;
  readonly now: number;
  readonly maxAgeMs?: number;
  readonly clockSkewMs?: number;
}

/**
 * The hub's check, in order: parse; addressed to this hub; sender on the roster and not revoked;
 * signature; same device as the session; role allows the action; fresh; sequence not seen. The caller
 * records `command.seq` as the new last sequence only when this returns.
 */
export function authorizeCommand(wire: Uint8Array, ctx: CommandContext): Command {
  const { command, signed, signature } = decodeCommand(wire);
  const where = `authorizeCommand(device=${toHex(command.deviceId).slice(0, 8)}, action=${command.action})`;
  if (!equalBytes(command.hubId, ctx.hubId)) throw new CryptoError('not-for-me', where, 'command for another hub');
  const device = ctx.lookupDevice(command.deviceId);
  if (device === undefined) throw new CryptoError('forbidden', where, 'device is not on the roster');
  if (!verify(device.signingKey, concat(utf8(LABEL_COMMAND), signed), signature)) {
    throw new CryptoError('tampered', where, 'bad device signature');
  }
  if (device.revoked) throw new CryptoError('forbidden', where, 'device was removed from this hub');
  if (ctx.sessionDeviceId !== undefined && !equalBytes(ctx.sessionDeviceId, command.deviceId)) {
    throw new CryptoError('forbidden', where, 'command signed by another device than the session');
  }
  if (!ROLE_ALLOWS[device.role].includes(command.action)) {
    throw new CryptoError('forbidden', where, `role ${device.role} may not ${command.action}`);
  }
  const maxAge = ctx.maxAgeMs ?? DEFAULT_MAX_COMMAND_AGE_MS;
  const skew = ctx.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (command.issuedAt < ctx.now - maxAge) throw new CryptoError('expired', where, 'command too old');
  if (command.issuedAt > ctx.now + skew) throw new CryptoError('expired', where, 'command from the future');
  if (command.seq <= ctx.lastSeq(command.deviceId)) throw new CryptoError('replayed', where, `sequence ${command.seq} already used`);
  return command;
}
