// The hub's pairing desk on a manual clock, with real crypto on both sides (crypto/pairing.ts) and a
// real SQLite store; the relay mailbox is a fake transport that records what the desk sends, and the
// test carries the phone's messages to it. What the end-to-end tests cannot reach cheaply: expiry on
// the clock, the code the owner compares, refusal, and what a phone without the secret gets (nothing).
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isCryptoError } from '../../crypto/errors.ts';
import { newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../crypto/identity.ts';
import { parseInviteLink, type Invite } from '../../crypto/invite.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../../crypto/messages.ts';
import { startPairing, type PhonePairing } from '../../crypto/pairing.ts';
import { Secret } from '../../crypto/secret.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { PairingDesk, type InviteStatus, type PairingTransport } from '../../main/pairing-desk.ts';
import type { Device } from '../../main/store/db.ts';
import { open, tempDataDir } from './store/helpers.ts';

let hub: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
});

interface Sent {
  to: string;
  kind: number;
  body: Uint8Array;
}

/** A desk on a manual clock (ms) and a fake mailbox transport; the store shares the clock. */
function setup() {
  let t = 1_800_000_000_000;
  const clock = { now: () => t, advance: (ms: number) => { t += ms; } };
  const store = open(tempDataDir(), { now: () => Math.floor(clock.now() / 1000) });
  const sent: Sent[] = [];
  const mailboxes = { opened: [] as string[], closed: [] as string[] };
  const transport: PairingTransport = {
    openMailbox: async (id) => void mailboxes.opened.push(Buffer.from(id).toString('hex')),
    closeMailbox: async (id) => void mailboxes.closed.push(Buffer.from(id).toString('hex')),
    send: async (to, payload) => {
      const env = decodeEnvelope(payload);
      sent.push({ to: Buffer.from(to).toString('hex'), kind: env.kind, body: env.body });
    },
  };
  const paired: Device[] = [];
  const statuses: InviteStatus[] = [];
  const desk = new PairingDesk(hub, store, transport, () => ['ws://127.0.0.1:9/v1'], {
    onPaired: (d) => void paired.push(d),
    onStatus: (_id, s) => void statuses.push(s),
  }, undefined, clock.now);
  return { clock, store, sent, mailboxes, desk, paired, statuses };
}

type Setup = ReturnType<typeof setup>;

/** A phone that scanned `invite` (or a forged copy of it) and talks to the desk through the mailbox. */
class Phone {
  readonly relayKey = newSigningKeyPair('relay').publicKey;
  readonly pairing: PhonePairing;
  code: string | undefined;

  constructor(private readonly s: Setup, readonly invite: Invite, name = 'Ana') {
    this.pairing = startPairing({ invite, device: newDeviceIdentity(), relayKey: this.relayKey, name, now: s.clock.now() / 1000 });
  }

  /** The desk's messages to this phone of one kind. */
  received(kind: number): Uint8Array[] {
    const me = Buffer.from(this.relayKey).toString('hex');
    return this.s.sent.filter((m) => m.to === me && m.kind === kind).map((m) => m.body);
  }

  hello(): void {
    this.s.desk.onMailboxMessage(this.invite.inviteId, this.relayKey, encodeEnvelope(Envelope.PAIR_1, this.pairing.message1));
  }

  /** Reads PAIR_2 and sends the confirmation; returns the code the phone shows. */
  confirm(): string {
    const [message2] = this.received(Envelope.PAIR_2);
    if (message2 === undefined) throw new Error('no PAIR_2');
    const { code, confirmation } = this.pairing.readMessage2(message2);
    this.code = code;
    this.s.desk.onMailboxMessage(this.invite.inviteId, this.relayKey, encodeEnvelope(Envelope.PAIR_CONFIRM, confirmation));
    return code;
  }
}

async function invite(s: Setup, ttlSeconds?: number): Promise<{ id: string; invite: Invite; expiresAt: number }> {
  const made = await s.desk.createInvite(ttlSeconds);
  return { id: made.id, invite: parseInviteLink(made.link), expiresAt: made.expiresAt };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isCryptoError(e) ? e.code : `not a CryptoError: ${String(e)}`;
  }
  return undefined;
}

async function refusedWith(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isCryptoError(e) ? e.code : `not a CryptoError: ${String(e)}`;
  }
  return undefined;
}

describe('PairingDesk', () => {
  it('pairs: the owner sees the phone\'s own code, approval adds it with its role and answers with its certificate, once', async () => {
    const s = setup();
    const { id, invite: inv } = await invite(s);
    expect(s.mailboxes.opened).toEqual([id]);
    expect(s.desk.status(id)).toEqual({ state: 'waiting' });
    const phone = new Phone(s, inv, 'Ana');
    phone.hello();
    expect(phone.received(Envelope.PAIR_2)).toHaveLength(1);
    expect(s.desk.status(id)).toEqual({ state: 'waiting' }); // not before the phone proved the secret
    const code = phone.confirm();
    expect(code).toMatch(/^\d{6}$/);
    expect(s.desk.status(id)).toEqual({ state: 'confirm', code, name: 'Ana' });
    expect(s.statuses.at(-1)).toEqual({ state: 'confirm', code, name: 'Ana' });

    const device = await s.desk.approve(id, 'viewer');
    expect(s.paired.map((d) => d.id)).toEqual([device.id]);
    expect(s.store.getDevice(device.id)?.role).toBe('viewer');
    const [message3] = phone.received(Envelope.PAIR_RESULT);
    const cert = phone.pairing.readResult(message3!);
    expect(cert.role).toBe('viewer');
    expect(Buffer.from(cert.deviceId).toString('hex')).toBe(device.id);
    expect(s.desk.status(id)).toEqual({ state: 'approved', deviceId: device.id, name: 'Ana' });
    expect(s.store.getInvite(id)?.state).toBe('used');
    expect(s.mailboxes.closed).toEqual([id]);
    expect(s.store.listAudit().map((a) => a.action)).toEqual(expect.arrayContaining(['invite-created', 'paired']));
    // Single use: nobody waits any more.
    expect(await refusedWith(s.desk.approve(id))).toBe('forbidden');
    expect(s.paired).toHaveLength(1);
  });

  it('a phone without the invite\'s secret never reaches the owner, and the invite stays open for the real one', async () => {
    const s = setup();
    const { id, invite: inv } = await invite(s);
    const forger = new Phone(s, { ...inv, secret: new Secret(randomBytes(inv.secret.length), 'guess') }, 'Mallory');
    forger.hello();
    // IKpsk2: the secret is mixed in at message 2, so the desk answers; the forger cannot read it,
    // and has no confirmation to send. Whatever it sends instead is not one.
    const [forged2] = forger.received(Envelope.PAIR_2);
    expect(codeOf(() => forger.pairing.readMessage2(forged2!))).toBe('tampered');
    s.desk.onMailboxMessage(inv.inviteId, forger.relayKey, encodeEnvelope(Envelope.PAIR_CONFIRM, randomBytes(32)));
    expect(s.desk.status(id)).toEqual({ state: 'waiting' });
    // A confirmation from another relay login than the one that said hello is not it either.
    const phone = new Phone(s, inv);
    phone.hello();
    const [message2] = phone.received(Envelope.PAIR_2);
    const { confirmation } = phone.pairing.readMessage2(message2!);
    s.desk.onMailboxMessage(inv.inviteId, forger.relayKey, encodeEnvelope(Envelope.PAIR_CONFIRM, confirmation));
    expect(s.desk.status(id)).toEqual({ state: 'waiting' });
    expect(await refusedWith(s.desk.approve(id))).toBe('forbidden');
  });

  it('expires on the clock: waiting, confirmed or approved too late, and its mailbox closes', async () => {
    const s = setup();
    const { id, invite: inv, expiresAt } = await invite(s, 60);
    expect(expiresAt).toBe(Math.floor(s.clock.now() / 1000) + 60);
    const phone = new Phone(s, inv);
    phone.hello();
    phone.confirm();
    s.clock.advance(59_000);
    expect(s.desk.status(id)?.state).toBe('confirm');
    s.clock.advance(1_000);
    expect(await refusedWith(s.desk.approve(id))).toBe('expired');
    expect(s.desk.status(id)).toEqual({ state: 'expired' });
    expect(s.store.getInvite(id)?.state).toBe('expired');
    expect(s.mailboxes.closed).toEqual([id]);
    expect(s.paired).toEqual([]);
    expect(phone.received(Envelope.PAIR_RESULT)).toEqual([]);

    // One nobody answered expires by itself when asked about; a late phone gets nothing.
    const other = await invite(s, 60);
    s.clock.advance(60_000);
    expect(s.desk.status(other.id)).toEqual({ state: 'expired' });
    const late = new Phone(s, { ...other.invite, expiresAt: other.invite.expiresAt + 3600 });
    late.hello();
    expect(late.received(Envelope.PAIR_2)).toEqual([]);
  });

  it('refusal: the phone is told, the invite is cancelled, and nothing more happens on it', async () => {
    const s = setup();
    const { id, invite: inv } = await invite(s);
    const phone = new Phone(s, inv);
    phone.hello();
    phone.confirm();
    await s.desk.refuse(id);
    const [message3] = phone.received(Envelope.PAIR_RESULT);
    expect(codeOf(() => phone.pairing.readResult(message3!))).toBe('forbidden');
    expect(s.desk.status(id)).toEqual({ state: 'refused' });
    expect(s.store.getInvite(id)?.state).toBe('cancelled');
    expect(s.store.listAudit().map((a) => a.action)).toContain('pairing-refused');
    expect(s.mailboxes.closed).toEqual([id]);
    expect(await refusedWith(s.desk.approve(id))).toBe('forbidden');
    const again = new Phone(s, inv);
    again.hello();
    expect(again.received(Envelope.PAIR_2)).toEqual([]);
    expect(s.paired).toEqual([]);
  });

  it('answers at most 8 pairing attempts per invite (a flood of PAIR_1 grows nothing)', async () => {
    const s = setup();
    const { invite: inv } = await invite(s);
    for (let i = 0; i < 20; i++) new Phone(s, inv, `phone ${i}`).hello();
    expect(s.sent.filter((m) => m.kind === Envelope.PAIR_2)).toHaveLength(8);
  });
});
