// PhoneSessions against the attacks a relay can make on sessions: a replayed handshake after a hub
// restart (issue 14, finding 5), handshake floods (finding 6) and long-lived sessions (finding 7).
// Real crypto on both ends (crypto/session.ts, crypto/command.ts, crypto/keyupdate.ts), a real
// SQLite store; the relay is a fake transport that records what the hub sends and lets the test
// deliver, drop or replay.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { issueCertificate } from '../../crypto/certificate.ts';
import { signCommand, type Action } from '../../crypto/command.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import {
  hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type DeviceIdentity, type HubIdentity, type KeyPair,
} from '../../crypto/identity.ts';
import { openKeyUpdate } from '../../crypto/keyupdate.ts';
import {
  Envelope, decodeEnvelope, decodeSessionMessage, encodeEnvelope, encodeSessionMessage, type SessionMessage,
} from '../../crypto/messages.ts';
import { startSession, type Session, type StartedSession } from '../../crypto/session.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { EpochKeys } from '../../main/epoch-keys.ts';
import {
  HANDSHAKE_BURST, HANDSHAKE_REFILL_MS, PENDING_GRACE_MS, PhoneSessions, REJECT_AFTER_MS, TOUCH_INTERVAL_MS, type PhoneSessionOptions,
} from '../../main/phone-sessions.ts';
import type { Store } from '../../main/store/db.ts';
import { open, tempDataDir } from './store/helpers.ts';

let hubIdentity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hubIdentity = newHubIdentity();
});

interface Sent {
  to: Uint8Array;
  kind: number;
  body: Uint8Array;
}

/** A controllable clock in milliseconds. */
function manualClock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

/** The hub's side: store, epoch keys, and PhoneSessions on a transport that records everything. */
class TestHub {
  readonly sent: Sent[] = [];
  readonly keys = new EpochKeys(hubIdentity);
  sessions: PhoneSessions;
  epoch = 1;

  constructor(readonly store: Store, private readonly options: PhoneSessionOptions = {}) {
    this.keys.begin(this.epoch, [{ id: '00112233445566778899aabbccddeeff', number: 1 }], []);
    this.sessions = this.#make();
  }

  #make(): PhoneSessions {
    return new PhoneSessions(hubIdentity, this.store, {
      send: async (to, payload) => {
        const env = decodeEnvelope(payload);
        this.sent.push({ to, kind: env.kind, body: env.body });
      },
    }, (id) => this.keys.keyUpdateFor(id), async (command) => ({ action: command.action }), () => undefined, () => undefined, this.options);
  }

  /** The hub process restarts: sessions are in memory only, the store stays. */
  restart(): void {
    this.sessions.closeAll();
    this.sessions = this.#make();
  }

  /** A new epoch: what main/hub.ts does (EpochKeys.begin, then the key updates go out). */
  newEpoch(): void {
    this.epoch++;
    this.keys.begin(this.epoch, [{ id: '00112233445566778899aabbccddeeff', number: 1 }], []);
    this.sessions.sendKeyUpdates({ epochChanged: true });
  }

  /** What was sent since `mark` (an index into `sent`). */
  since(mark: number): Sent[] {
    return this.sent.slice(mark);
  }
}

/** A phone with real keys, speaking through the fake relay. */
class TestPhone {
  readonly device: DeviceIdentity = newDeviceIdentity();
  readonly relay: KeyPair = newSigningKeyPair('relay');
  session: Session | undefined;
  started: StartedSession | undefined;
  readonly messages: SessionMessage[] = [];
  resets = 0;
  seq = 1n;

  constructor(readonly hub: TestHub) {
    const cert = issueCertificate(hubIdentity, {
      deviceId: this.device.deviceId, signingKey: this.device.signing.publicKey, exchangeKey: this.device.exchange.publicKey,
      pqKey: this.device.pq.publicKey, relayKey: this.relay.publicKey,
    }, 'owner', Math.floor(Date.now() / 1000));
    hub.store.addDevice({ name: 'phone', certificate: cert });
  }

  /** Message 1 of a new handshake, as a relay envelope (what a relay would record). */
  hello(): Uint8Array {
    this.started = startSession({ device: this.device, hub: hubPublicKeys(hubIdentity) });
    return encodeEnvelope(Envelope.SESSION_1, this.started.message1);
  }

  /** Sends a payload to the hub as this phone's relay login. */
  toHub(payload: Uint8Array): void {
    this.hub.sessions.onMessage(this.relay.publicKey, payload);
  }

  /** Handshake, delivering message 2 back; returns the key update's epoch. */
  connect(): number {
    const mark = this.hub.sent.length;
    this.toHub(this.hello());
    const reply = this.hub.since(mark).find((m) => m.kind === Envelope.SESSION_2);
    if (reply === undefined) throw new Error('no message 2');
    const { session, payload } = this.started!.finish(reply.body);
    this.session = session;
    this.started = undefined;
    return openKeyUpdate(payload, hubPublicKeys(hubIdentity), this.device.deviceId).epoch;
  }

  commandEnvelope(action: Action, session: Session | undefined = this.session): Uint8Array {
    const signed = signCommand(this.device, { hubId: hubIdentity.hubId, seq: this.seq++, issuedAt: Date.now(), action });
    return encodeEnvelope(Envelope.SESSION_DATA, session!.seal(encodeSessionMessage({ kind: 'command', signed })));
  }

  /** Reads what the hub sent this phone since `mark`: opens session data, counts resets. */
  read(mark: number): void {
    for (const m of this.hub.since(mark)) {
      if (m.kind === Envelope.SESSION_RESET) this.resets++;
      if (m.kind !== Envelope.SESSION_DATA || this.session === undefined) continue;
      try {
        this.messages.push(decodeSessionMessage(this.session.open(m.body)));
      } catch (e) {
        if (!isCryptoError(e)) throw e; // a message for the other session the hub holds
      }
    }
  }

  results(): unknown[] {
    return this.messages.filter((m) => m.kind === 'result').map((m) => (m as { value: unknown }).value);
  }
}

/** Lets the command handler's promise settle and its answer be sent. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('finding 5: a replayed handshake after a hub restart', () => {
  it('does not cut the phone off: the hub answers SESSION_RESET and the phone gets back in', async () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    // The relay records the phone's handshake.
    const recorded = phone.hello();
    phone.toHub(recorded);
    const reply = hub.sent.find((m) => m.kind === Envelope.SESSION_2)!;
    phone.session = phone.started!.finish(reply.body).session;
    let mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.read(mark);
    expect(phone.results()).toHaveLength(1);

    // The hub restarts; before the phone says anything the relay replays the old message 1, which
    // the restarted hub answers (to the relay, which keeps the answer).
    hub.restart();
    hub.sessions.onMessage(phone.relay.publicKey, recorded);

    // The phone, still in its real session, sends a command: it opens in no session the hub has.
    mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.read(mark);
    expect(phone.resets).toBe(1);

    // The phone handshakes again, as hub-link.ts does on SESSION_RESET, and is served.
    phone.connect();
    mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.read(mark);
    expect(phone.results()).toHaveLength(2);
  });

  it('sends at most one SESSION_RESET a second per phone, however many messages open nowhere', async () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    phone.connect();
    // Messages sealed in a session the hub does not hold: the phone's own, after a restart.
    hub.restart();
    const mark = hub.sent.length;
    for (let i = 0; i < 50; i++) phone.toHub(phone.commandEnvelope('list-cameras'));
    expect(hub.since(mark).filter((m) => m.kind === Envelope.SESSION_RESET)).toHaveLength(1);
    clock.advance(1_000);
    for (let i = 0; i < 50; i++) phone.toHub(phone.commandEnvelope('list-cameras'));
    expect(hub.since(mark).filter((m) => m.kind === Envelope.SESSION_RESET)).toHaveLength(2);
  });

  it('answers no reset to a replayed message of the session in use (the relay may duplicate)', async () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    phone.connect();
    const message = phone.commandEnvelope('list-cameras');
    phone.toHub(message);
    await settle();
    const mark = hub.sent.length;
    phone.toHub(message);
    await settle();
    expect(hub.since(mark)).toEqual([]);
  });
});

describe('finding 6: handshake floods', () => {
  const answers = (hub: TestHub, mark = 0): number => hub.since(mark).filter((m) => m.kind === Envelope.SESSION_2).length;

  it('drops byte-identical copies of a recent message 1 without a handshake or a database write', () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    const touch = vi.spyOn(hub.store, 'touchDevice');
    const audit = vi.spyOn(hub.store, 'audit');
    const recorded = phone.hello();
    for (let i = 0; i < 200; i++) phone.toHub(recorded);
    expect(answers(hub)).toBe(1);
    expect(touch.mock.calls.length).toBeLessThanOrEqual(1);
    expect(audit).not.toHaveBeenCalled();
    // The copies took nothing from the phone's allowance: its own next handshakes go through.
    for (let i = 0; i < HANDSHAKE_BURST - 1; i++) expect(phone.connect()).toBe(1);
  });

  it('refuses distinct handshakes beyond the phone\'s allowance before any handshake work, writing nothing per refusal', () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    const flood = Array.from({ length: HANDSHAKE_BURST + 20 }, () => phone.hello());
    const touch = vi.spyOn(hub.store, 'touchDevice');
    const audit = vi.spyOn(hub.store, 'audit');
    for (const m of flood) phone.toHub(m);
    expect(answers(hub)).toBe(HANDSHAKE_BURST);
    expect(touch.mock.calls.length).toBeLessThanOrEqual(1);
    expect(audit.mock.calls.length).toBeLessThanOrEqual(1); // one refusal audited, then quiet for a minute
    // The allowance comes back with time, one handshake per refill interval.
    clock.advance(HANDSHAKE_REFILL_MS);
    const mark = hub.sent.length;
    phone.toHub(phone.hello());
    phone.toHub(phone.hello());
    expect(answers(hub, mark)).toBe(1);
  });

  it('writes a phone\'s last-seen time at most once per interval', async () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    const touch = vi.spyOn(hub.store, 'touchDevice');
    phone.connect();
    for (let i = 0; i < 5; i++) phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.connect();
    expect(touch).toHaveBeenCalledTimes(1);
    clock.advance(TOUCH_INTERVAL_MS);
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    expect(touch).toHaveBeenCalledTimes(2);
  });
});

describe('finding 7: session lifetime', () => {
  /** Every key update the hub sent that `session` opens, by epoch. */
  function keyUpdatesIn(hub: TestHub, phone: TestPhone, session: Session, mark: number): number[] {
    const epochs: number[] = [];
    for (const m of hub.since(mark)) {
      if (m.kind !== Envelope.SESSION_DATA) continue;
      let message: SessionMessage;
      try {
        message = decodeSessionMessage(session.open(m.body));
      } catch (e) {
        if (isCryptoError(e)) continue;
        throw e;
      }
      if (message.kind === 'key-update') epochs.push(openKeyUpdate(message.signed, hubPublicKeys(hubIdentity), phone.device.deviceId).epoch);
    }
    return epochs;
  }

  it('a session key captured before an epoch change opens none of the messages carrying the next key update', async () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    expect(phone.connect()).toBe(1);
    const leaked = phone.session!; // what a thief of the session key holds
    const mark = hub.sent.length;
    hub.newEpoch();
    // Notices and results after the change do not go into it either.
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    phone.toHub(phone.commandEnvelope('list-cameras', leaked));
    await settle();
    expect(keyUpdatesIn(hub, phone, leaked, mark)).toEqual([]);
    expect(hub.since(mark).filter((m) => m.kind === Envelope.SESSION_DATA).every((m) => {
      try {
        leaked.open(m.body);
        return false;
      } catch {
        return true;
      }
    })).toBe(true);
    // The phone was told to handshake again, and gets the new epoch's keys in message 2.
    expect(hub.since(mark).some((m) => m.kind === Envelope.SESSION_RESET)).toBe(true);
    expect(phone.connect()).toBe(2);
  });

  it('refuses a session older than the limit, and seals nothing more in it', async () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    phone.connect();
    const old = phone.session!;
    clock.advance(REJECT_AFTER_MS + 1);
    const mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    phone.toHub(phone.commandEnvelope('list-cameras', old));
    await settle();
    phone.read(mark);
    expect(phone.results()).toEqual([]);
    expect(phone.messages).toEqual([]);
    expect(phone.resets).toBeGreaterThan(0);
    // A new handshake is served.
    phone.connect();
    const after = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.read(after);
    expect(phone.results()).toHaveLength(1);
  });

  it('a re-key racing a command keeps the phone served (the command went out in the old session)', async () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    phone.connect();
    const old = phone.session!;
    // The phone re-keys: message 1 reaches the hub; before message 2 is back, a command leaves in
    // the old session.
    let mark = hub.sent.length;
    phone.toHub(phone.hello());
    const reply = hub.since(mark).find((m) => m.kind === Envelope.SESSION_2)!;
    phone.toHub(phone.commandEnvelope('list-cameras', old));
    await settle();
    phone.session = phone.started!.finish(reply.body).session;
    // From now on it speaks in the new session, and is answered there.
    mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    phone.read(mark);
    expect(phone.results()).toHaveLength(1);
    expect(phone.resets).toBe(0);
  });
});

describe('pending and current sessions', () => {
  /** How many of the SESSION_DATA messages the hub sent since `mark` open in `session`. */
  function openedIn(hub: TestHub, session: Session, mark: number): number {
    let n = 0;
    for (const m of hub.since(mark)) {
      if (m.kind !== Envelope.SESSION_DATA) continue;
      try {
        session.open(m.body);
        n++;
      } catch (e) {
        if (!isCryptoError(e)) throw e;
      }
    }
    return n;
  }
  const dataSince = (hub: TestHub, mark: number): number => hub.since(mark).filter((m) => m.kind === Envelope.SESSION_DATA).length;

  it('news goes into both while a new handshake is pending; the phone\'s first message in it promotes it, and the old one is done', async () => {
    const hub = new TestHub(open(tempDataDir()));
    const phone = new TestPhone(hub);
    phone.connect();
    const old = phone.session!;
    phone.connect(); // the hub holds it as pending: the phone has said nothing in it yet
    const fresh = phone.session!;
    let mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    expect(dataSince(hub, mark)).toBe(2);
    expect(openedIn(hub, old, mark)).toBe(1);
    expect(openedIn(hub, fresh, mark)).toBe(1);

    // The phone speaks in the new session: it becomes the current one, and the only one.
    mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras', fresh));
    await settle();
    phone.read(mark);
    expect(phone.results()).toHaveLength(1);
    mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    expect(dataSince(hub, mark)).toBe(1);
    expect(openedIn(hub, fresh, mark)).toBe(1);
    // A command in the old session is not served: the hub holds that session no more.
    mark = hub.sent.length;
    phone.toHub(phone.commandEnvelope('list-cameras', old));
    await settle();
    expect(dataSince(hub, mark)).toBe(0);
  });

  it('a handshake the phone never finished (a replayed message 1) is dropped once the phone speaks in its session after the grace', async () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    phone.connect();
    phone.toHub(phone.hello()); // message 2 comes back, but the phone never takes it
    phone.started = undefined;

    // Within the grace, a message in the current session keeps the pending one (a re-key may race it).
    clock.advance(PENDING_GRACE_MS - 1);
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    let mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    expect(dataSince(hub, mark)).toBe(2);

    // After it, the pending one was a replay: news goes into the phone's session alone.
    clock.advance(1);
    phone.toHub(phone.commandEnvelope('list-cameras'));
    await settle();
    mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    expect(dataSince(hub, mark)).toBe(1);
    expect(openedIn(hub, phone.session!, mark)).toBe(1);
  });

  it('a current session past its age gives way to the pending one, which is used alone from then on', () => {
    const clock = manualClock();
    const hub = new TestHub(open(tempDataDir()), { now: clock.now });
    const phone = new TestPhone(hub);
    phone.connect();
    const old = phone.session!;
    clock.advance(REJECT_AFTER_MS - 1_000);
    phone.connect(); // pending, the phone silent in it so far
    const fresh = phone.session!;
    clock.advance(1_001); // the current one is now older than the limit
    const mark = hub.sent.length;
    hub.sessions.notifyAll({ type: 'cameras-changed' });
    expect(hub.since(mark).map((m) => m.kind)).toEqual([Envelope.SESSION_DATA]);
    expect(openedIn(hub, fresh, mark)).toBe(1);
    expect(openedIn(hub, old, mark)).toBe(0);
  });
});
