// Builds the command known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/command.json; test/crypto/kat-command.test.ts checks the code against that file.
import { concat, fromHex, toHex, utf8 } from '../../../crypto/bytes.ts';
import { authorizeCommand, signCommand, type Action, type Command, type CommandContext } from '../../../crypto/command.ts';
import type { Role } from '../../../crypto/certificate.ts';
import { sign } from '../../../crypto/identity.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds, type DeviceSeeds } from '../../../crypto/identity.testing.ts';
import { LABEL_COMMAND } from '../../../crypto/labels.ts';
import { Writer } from '../../../crypto/wire.ts';
import { CAST, flip, hexSeeds, type Expect, type HexSeeds } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil command known-answer vectors, docs/PROTOCOL.md section 10. For each vector authorizeCommand(wire, context) must give ' +
  'expect: context.hubId is the hub, now is Unix ms, devices is the roster (signing key, role, revoked, last accepted ' +
  'sequence as a decimal string, "-1" if none; a device not listed is unknown), sessionDeviceId (when present) the device ' +
  'the session authenticated. Default limits: 60 s age, 30 s skew. For success, command is what authorizeCommand returns ' +
  '(seq as a decimal string) and signCommand with the device from signerSeeds reproduces wire.';

interface Context {
  hubId: string;
  /** Unix ms. */
  now: number;
  /** The device the session the command arrived in authenticated. */
  sessionDeviceId?: string;
  /** The hub's roster; lastSeq is a decimal string, "-1" before the first command. */
  devices: { deviceId: string; signingKey: string; role: Role; revoked: boolean; lastSeq: string }[];
}

interface CommandFields {
  version: number;
  hubId: string;
  deviceId: string;
  seq: string;
  issuedAt: number;
  action: Action;
  args: unknown;
}

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  context: Context;
  wire: string;
  /** success only: the decoded command and the signer's seeds (signCommand reproduces wire). */
  command?: CommandFields;
  signerSeeds?: HexSeeds;
}

export function contextOf(c: Context): CommandContext {
  const byId = new Map(c.devices.map((d) => [d.deviceId, d]));
  return {
    hubId: fromHex(c.hubId),
    now: c.now,
    ...(c.sessionDeviceId === undefined ? {} : { sessionDeviceId: fromHex(c.sessionDeviceId) }),
    lookupDevice: (id) => {
      const d = byId.get(toHex(id));
      return d === undefined ? undefined : { signingKey: fromHex(d.signingKey), role: d.role, revoked: d.revoked };
    },
    lastSeq: (id) => BigInt(byId.get(toHex(id))?.lastSeq ?? '-1'),
  };
}

export function fields(c: Command): CommandFields {
  return { version: c.version, hubId: toHex(c.hubId), deviceId: toHex(c.deviceId), seq: c.seq.toString(), issuedAt: c.issuedAt, action: c.action, args: c.args };
}

const NOW = 1_800_000_000_000;
/** Offsets (docs/PROTOCOL.md §10.1): the action's text16 starts at 49. */
const AT = { hubId: 1, deviceId: 17, seq: 33, issuedAt: 41, action: 49 };

export function buildVectors(): Vector[] {
  const hub = hubIdentityFromSeeds(CAST.hub);
  const otherHub = hubIdentityFromSeeds(CAST.otherHub);
  const [owner, viewer, revoked, stranger] = [CAST.owner, CAST.viewer, CAST.revoked, CAST.stranger].map(deviceIdentityFromSeeds) as [
    ReturnType<typeof deviceIdentityFromSeeds>, ReturnType<typeof deviceIdentityFromSeeds>, ReturnType<typeof deviceIdentityFromSeeds>, ReturnType<typeof deviceIdentityFromSeeds>,
  ];
  const entry = (d: typeof owner, role: Role, isRevoked: boolean, lastSeq: string) =>
    ({ deviceId: toHex(d.deviceId), signingKey: toHex(d.signing.publicKey), role, revoked: isRevoked, lastSeq });
  const ctx = (over: Partial<Context> = {}): Context => ({
    hubId: toHex(hub.hubId), now: NOW,
    devices: [entry(owner, 'owner', false, '41'), entry(viewer, 'viewer', false, '1000'), entry(revoked, 'owner', true, '-1')],
    ...over,
  });
  const seedsOf = new Map([[owner, CAST.owner], [viewer, CAST.viewer], [revoked, CAST.revoked], [stranger, CAST.stranger]] as [typeof owner, DeviceSeeds][]);
  const cmd = (d: typeof owner, action: Action, args: unknown, seq = 42n, issuedAt = NOW - 1000, hubId = hub.hubId) =>
    toHex(signCommand(d, { hubId, seq, issuedAt, action, args }));
  const v: Vector[] = [];
  const add = (name: string, comment: string, expectCode: Expect, wire: string, context = ctx(), signer?: typeof owner) => {
    const e: Vector = { name, comment, expect: expectCode, context, wire };
    if (expectCode === 'success' && signer !== undefined) {
      e.command = fields(authorizeCommand(fromHex(wire), contextOf(context)));
      e.signerSeeds = hexSeeds(seedsOf.get(signer) as DeviceSeeds);
    }
    v.push(e);
  };
  /** A body the owner really signed, for the checks that parse before the signature. */
  const authentic = (action: string, args: Uint8Array) => {
    const body = new Writer().u8(1).fixed(hub.hubId, 16).fixed(owner.deviceId, 16).u64(42n).u64(BigInt(NOW - 1000)).text16(action).bytes16(args).finish();
    return toHex(concat(body, sign(owner.signing, concat(utf8(LABEL_COMMAND), body))));
  };

  const ptz = cmd(owner, 'ptz', { camera: 'c1', pan: 0.5, tilt: -0.25 });
  const watch = cmd(viewer, 'watch', { camera: 'abc' }, 1001n);
  add('owner-ptz', 'the owner steers a camera', 'success', ptz, ctx(), owner);
  add('viewer-watch', 'a viewer watches', 'success', watch, ctx(), viewer);
  add('owner-list-null-args', 'list-cameras with args null, in the owner\'s own session', 'success', cmd(owner, 'list-cameras', null),
    ctx({ sessionDeviceId: toHex(owner.deviceId) }), owner);
  add('oldest-accepted', 'issued exactly 60 s before now', 'success', cmd(owner, 'snapshot', { camera: 'c1' }, 42n, NOW - 60_000), ctx(), owner);
  add('newest-accepted', 'issued exactly 30 s after now (clock skew)', 'success', cmd(owner, 'unwatch', { camera: 'c1' }, 42n, NOW + 30_000), ctx(), owner);
  add('first-command', 'a device\'s first command (lastSeq -1) with sequence 0', 'success', cmd(owner, 'settings', {}, 0n),
    ctx({ devices: [entry(owner, 'owner', false, '-1')] }), owner);

  add('viewer-ptz', 'a viewer may not steer a camera', 'forbidden', cmd(viewer, 'ptz', { camera: 'c1', pan: 1 }, 1001n));
  add('viewer-settings', 'a viewer may not change settings', 'forbidden', cmd(viewer, 'settings', {}, 1001n));
  add('revoked', 'a removed phone, its signature still valid', 'forbidden', cmd(revoked, 'watch', { camera: 'c1' }));
  add('stranger', 'a phone that is not on the roster', 'forbidden', cmd(stranger, 'list-cameras', null));
  add('other-session', 'the owner\'s command inside the viewer\'s session', 'forbidden', ptz, ctx({ sessionDeviceId: toHex(viewer.deviceId) }));

  add('seq-bit', 'the low bit of the sequence number flipped', 'tampered', flip(ptz, AT.seq + 7, 0));
  add('issuedAt-bit', 'a bit of issuedAt flipped', 'tampered', flip(ptz, AT.issuedAt + 6, 1));
  add('args-bit', '"abc" changed to "cbc" in the viewer\'s args (still JSON)', 'tampered',
    toHex(fromHex(watch).map((b, i, a) => (i === findText(a, '"abc"') + 1 ? b ^ 0x02 : b))));
  add('signature-bit', 'the last bit of the signature flipped', 'tampered', flip(ptz, -1, 7));
  add('deviceId-swapped', 'the owner\'s command relabelled as the viewer\'s (still allowed to watch)', 'tampered',
    toHex(concat(fromHex(cmd(owner, 'watch', { camera: 'c1' }, 2000n)).subarray(0, AT.deviceId), viewer.deviceId, fromHex(cmd(owner, 'watch', { camera: 'c1' }, 2000n)).subarray(AT.seq))));
  const forged = fromHex(ptz).subarray(0, fromHex(ptz).length - 64);
  add('forged', 'the owner\'s command re-signed by a stranger\'s key', 'tampered', toHex(concat(forged, sign(stranger.signing, concat(utf8(LABEL_COMMAND), forged)))));

  add('replayed-same-seq', 'sequence 41 after 41 was accepted', 'replayed', cmd(owner, 'ptz', { camera: 'c1' }, 41n));
  add('replayed-lower-seq', 'sequence 7 after 41', 'replayed', cmd(owner, 'watch', { camera: 'c1' }, 7n));
  add('replayed-exact', 'the owner-ptz command again once the hub recorded its sequence 42', 'replayed', ptz,
    ctx({ devices: [entry(owner, 'owner', false, '42')] }));

  add('too-old', 'issued 60.001 s before now', 'expired', cmd(owner, 'ptz', { camera: 'c1' }, 42n, NOW - 60_001));
  add('from-the-future', 'issued 30.001 s after now', 'expired', cmd(owner, 'ptz', { camera: 'c1' }, 42n, NOW + 30_001));

  add('other-hub', 'the owner\'s command for another hub, delivered here', 'not-for-me', cmd(owner, 'ptz', { camera: 'c1' }, 42n, NOW - 1000, otherHub.hubId));
  add('hubId-bit', 'the first bit of hubId flipped', 'not-for-me', flip(ptz, AT.hubId));

  add('short', 'a signature and nothing else', 'malformed', ptz.slice(-128));
  add('authentic-unknown-action', 'signed by the owner, action "reboot"', 'malformed', authentic('reboot', utf8('null')));
  add('authentic-args-not-json', 'signed by the owner, args "{"', 'malformed', authentic('watch', utf8('{')));
  add('authentic-action-too-long', 'signed by the owner, a 33-byte action', 'malformed', authentic('w'.repeat(33), utf8('null')));
  add('authentic-args-too-long', 'signed by the owner, 4097 bytes of args', 'malformed', authentic('watch', utf8(`"${'a'.repeat(4095)}"`)));
  add('authentic-action-not-utf8', 'signed by the owner, an action that is not UTF-8', 'malformed',
    authenticRaw(owner, hub.hubId, Uint8Array.of(0xc3, 0x28)));
  add('trailing-byte', 'a byte between args and signature', 'malformed',
    toHex(concat(forged, Uint8Array.of(0), fromHex(ptz).subarray(-64))));
  add('version-2', 'version byte 2', 'unsupported', toHex(concat(Uint8Array.of(2), fromHex(ptz).subarray(1))));
  return v;
}

/** A command signed by `d` whose action field holds raw bytes. */
function authenticRaw(d: ReturnType<typeof deviceIdentityFromSeeds>, hubId: Uint8Array, action: Uint8Array): string {
  const body = new Writer().u8(1).fixed(hubId, 16).fixed(d.deviceId, 16).u64(42n).u64(BigInt(NOW - 1000)).bytes16(action).bytes16(utf8('null')).finish();
  return toHex(concat(body, sign(d.signing, concat(utf8(LABEL_COMMAND), body))));
}

function findText(bytes: Uint8Array, text: string): number {
  const hex = toHex(bytes);
  const at = hex.indexOf(toHex(utf8(text)));
  if (at < 0 || at % 2 !== 0) throw new Error(`${text} not found`);
  return at / 2;
}
