// HubLink's session with a real PhoneSessions, through an in-process relay the test controls: it
// records, drops and replays what passes (issue 14, findings 5 and 7). Real crypto on both ends and
// a real SQLite store; only the network is fake.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../../crypto/certificate.ts';
import { equalBytes } from '../../../crypto/bytes.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../../crypto/identity.ts';
import { Envelope } from '../../../crypto/messages.ts';
import { cryptoReady } from '../../../crypto/sodium.ts';
import { EpochKeys } from '../../../main/epoch-keys.ts';
import { PhoneSessions, type PhoneSessionOptions } from '../../../main/phone-sessions.ts';
import type { Store } from '../../../main/store/db.ts';
import { HubLink, type HubLinkOptions } from '../../../phone/core/hub-link.ts';
import type { PhoneProfile } from '../../../phone/core/profile.ts';
import type { RelayClient, RelayClientOptions, RelayClientState } from '../../../relay/client.ts';
import { open, tempDataDir } from '../../main/store/helpers.ts';

let hubIdentity: HubIdentity;
beforeAll(async () => {
  await cryptoReady();
  hubIdentity = newHubIdentity();
});

const links: HubLink[] = [];
const relays: FakeRelay[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) await l.close();
  // What a closing link sent is still on its way (setImmediate): the hub's store closes after this.
  for (const r of relays.splice(0)) r.stopped = true;
});

/** A relay in memory between one phone and one hub; `filter` plays a hostile relay. */
class FakeRelay {
  sessions!: PhoneSessions;
  phone: FakeClient | undefined;
  /** Every payload the phone sent the hub, in order. */
  readonly fromPhone: Uint8Array[] = [];
  /** Return false to drop: direction and the envelope kind. */
  filter: (to: 'hub' | 'phone', kind: number) => boolean = () => true;
  /** After the test: nothing more is delivered. */
  stopped = false;

  constructor() {
    relays.push(this);
  }

  toHub(from: Uint8Array, payload: Uint8Array): void {
    this.fromPhone.push(payload.slice());
    if (!this.filter('hub', payload[0]!)) return;
    setImmediate(() => this.stopped || this.sessions.onMessage(from, payload));
  }

  toPhone(payload: Uint8Array): void {
    if (!this.filter('phone', payload[0]!)) return;
    const phone = this.phone;
    setImmediate(() => this.stopped || phone?.options.onMessage?.(hubIdentity.relay.publicKey, payload));
  }

  count(kind: number): number {
    return this.fromPhone.filter((p) => p[0] === kind).length;
  }
}

/** The part of RelayClient HubLink uses. */
class FakeClient {
  state: RelayClientState = 'connecting';
  readonly failure = undefined;
  constructor(private readonly relay: FakeRelay, readonly options: RelayClientOptions) {
    relay.phone = this;
    setImmediate(() => this.#set('ready'));
  }
  #set(s: RelayClientState): void {
    this.state = s;
    this.options.onStateChange?.(s);
  }
  async send(to: Uint8Array, payload: Uint8Array): Promise<void> {
    if (!equalBytes(to, hubIdentity.relay.publicKey)) throw new Error('only the hub here');
    this.relay.toHub(this.options.publicKey, payload);
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async waitReady(): Promise<void> {}
  async close(): Promise<void> {
    this.#set('closed');
  }
}

class Setup {
  readonly relay = new FakeRelay();
  readonly keys = new EpochKeys(hubIdentity);
  readonly store: Store = open(tempDataDir());
  readonly profile: PhoneProfile;
  epoch = 1;

  constructor(private readonly options: PhoneSessionOptions = {}) {
    this.keys.begin(this.epoch, [{ id: '00112233445566778899aabbccddeeff', number: 1 }], []);
    const device = newDeviceIdentity();
    const relayKey = newSigningKeyPair('relay');
    const certificate = issueCertificate(hubIdentity, {
      deviceId: device.deviceId, signingKey: device.signing.publicKey, exchangeKey: device.exchange.publicKey,
      pqKey: device.pq.publicKey, relayKey: relayKey.publicKey,
    }, 'owner', Math.floor(Date.now() / 1000));
    this.store.addDevice({ name: 'phone', certificate });
    this.profile = {
      name: 'phone', device, relayKey, hub: hubPublicKeys(hubIdentity), certificate, relays: ['ws://relay.invalid/v1'], lanUrls: [],
      lastSeq: 0n, pairedAt: Date.now(),
    };
    this.startHub();
  }

  /** Starts (or restarts) the hub's sessions: they live in memory only. */
  startHub(): void {
    this.relay.sessions?.closeAll();
    this.relay.sessions = new PhoneSessions(hubIdentity, this.store, { send: async (_to, payload) => this.relay.toPhone(payload) },
      (id) => this.keys.keyUpdateFor(id), async (command) => ({ action: command.action }), () => undefined, () => undefined, this.options);
  }

  link(options: Partial<HubLinkOptions> = {}): HubLink {
    const link = new HubLink({
      profile: this.profile,
      relayFactory: (o) => new FakeClient(this.relay, o) as unknown as RelayClient,
      ...options,
    });
    links.push(link);
    return link;
  }
}

/** Waits for a condition, polling; fails after `ms`. */
async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('finding 5: the phone gets back in when the hub no longer reads its session', () => {
  it('re-handshakes after two commands in a row time out, even when no SESSION_RESET reaches it', async () => {
    const setup = new Setup();
    const link = setup.link({ commandTimeoutMs: 300 });
    await link.command('list-cameras');
    const recorded = setup.relay.fromPhone.find((p) => p[0] === Envelope.SESSION_1)!;

    // The hub restarts; the relay replays the phone's old message 1 to it and drops every reset.
    setup.startHub();
    setup.relay.filter = (to, kind) => !(to === 'phone' && kind === Envelope.SESSION_RESET);
    setup.relay.sessions.onMessage(setup.profile.relayKey.publicKey, recorded);

    await expect(link.command('list-cameras')).rejects.toThrow(/did not answer in time/);
    await expect(link.command('list-cameras')).rejects.toThrow(/did not answer in time/);
    // Two in a row: the phone handshakes again on its own, and is served.
    await until('a new handshake', () => setup.relay.count(Envelope.SESSION_1) >= 2, 2_000);
    await expect(link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });

  it('re-handshakes on the restarted hub\'s SESSION_RESET', async () => {
    const setup = new Setup();
    const link = setup.link({ commandTimeoutMs: 1_000 });
    await link.command('list-cameras');
    const recorded = setup.relay.fromPhone.find((p) => p[0] === Envelope.SESSION_1)!;
    setup.startHub();
    setup.relay.sessions.onMessage(setup.profile.relayKey.publicKey, recorded);
    // This one is lost (sealed in the session the hub no longer has); the reset brings the next in.
    await expect(link.command('list-cameras')).rejects.toThrow(/did not answer in time/);
    expect(setup.relay.count(Envelope.SESSION_1)).toBe(2);
    await expect(link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });
});

describe('finding 7: the phone re-keys on a schedule and after each epoch change', () => {
  it('handshakes again every rekeyAfterMs, and commands keep working across the re-keys', async () => {
    const setup = new Setup();
    const link = setup.link({ commandTimeoutMs: 2_000, rekeyAfterMs: 200 });
    await link.command('list-cameras');
    const deadline = Date.now() + 1_500;
    let answered = 0;
    while (Date.now() < deadline) {
      await expect(link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
      answered++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(answered).toBeGreaterThan(10);
    expect(setup.relay.count(Envelope.SESSION_1)).toBeGreaterThanOrEqual(4);
  });

  it('after an epoch change, takes the new key update from a new handshake', async () => {
    const setup = new Setup();
    const epochs: number[] = [];
    const link = setup.link({ commandTimeoutMs: 2_000, onKeyUpdate: (e) => epochs.push(e) });
    await link.command('list-cameras');
    expect(link.currentEpoch).toBe(1);
    setup.keys.begin(2, [{ id: '00112233445566778899aabbccddeeff', number: 1 }], []);
    setup.relay.sessions.sendKeyUpdates({ epochChanged: true });
    await until('the new epoch', () => link.currentEpoch === 2);
    expect(setup.relay.count(Envelope.SESSION_1)).toBe(2);
    await expect(link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });
});

describe('messages of the session a new handshake replaced', () => {
  it('arriving late are counted stale and dropped, not taken for tampering; a changed bit still is tampering', async () => {
    const setup = new Setup();
    const link = setup.link({ commandTimeoutMs: 2_000 });
    await link.command('list-cameras');
    // A slow relay holds back what the hub seals in this session...
    const held: Uint8Array[] = [];
    let holding = true;
    const toPhone = setup.relay.toPhone.bind(setup.relay);
    setup.relay.toPhone = (payload) => {
      if (holding && payload[0] === Envelope.SESSION_DATA) held.push(payload.slice());
      else toPhone(payload);
    };
    setup.relay.sessions.sendKeyUpdates({ epochChanged: false });
    setup.relay.sessions.sendKeyUpdates({ epochChanged: false });
    await until('two messages held', () => held.length === 2);
    // ... while an epoch change makes the hub ask for a new handshake, which completes.
    holding = false;
    setup.keys.begin(2, [{ id: '00112233445566778899aabbccddeeff', number: 1 }], []);
    setup.relay.sessions.sendKeyUpdates({ epochChanged: true });
    await until('the new epoch', () => link.currentEpoch === 2);
    const before = { ...link.counters };
    // The old session's message, late: authentic, stale.
    setup.relay.toPhone(held[0]!);
    // The other one with a bit changed: tampering, whichever session it claims.
    const changed = held[1]!.slice();
    changed[changed.length - 1]! ^= 1;
    setup.relay.toPhone(changed);
    await until('both counted', () => link.counters.stale + link.counters.tampered > before.stale + before.tampered + 1);
    expect(link.counters.stale - before.stale).toBe(1);
    expect(link.counters.tampered - before.tampered).toBe(1);
    await expect(link.command('list-cameras')).resolves.toEqual({ action: 'list-cameras' });
  });
});

describe('messages the hub sealed in a session this phone does not hold', () => {
  it('a copy for the session of an earlier process of the same phone is not for it, not tampering', async () => {
    const setup = new Setup();
    const first = setup.link({ commandTimeoutMs: 2_000 });
    await first.command('list-cameras');
    await first.close(); // the app restarts: the hub still holds the old process's session
    // Hold the new process's first transport message, so the hub has not yet seen it use the new
    // session: until then the hub seals into both (PROTOCOL 6.5).
    const held: Array<[Uint8Array, Uint8Array]> = [];
    let holding = true;
    const toHub = setup.relay.toHub.bind(setup.relay);
    setup.relay.toHub = (from, payload) => {
      if (holding && payload[0] === Envelope.SESSION_DATA) held.push([from, payload.slice()]);
      else toHub(from, payload);
    };
    const second = setup.link({ commandTimeoutMs: 5_000 });
    const answered = second.command('list-cameras');
    await until('the new handshake and its first messages', () => held.length >= 1);
    setup.relay.sessions.sendKeyUpdates({ epochChanged: false });
    // The copy in the old session comes first (current, then pending), then the one in ours.
    await until('the old session\'s copy counted', () => second.counters.notForMe + second.counters.tampered >= 1);
    holding = false;
    for (const [from, payload] of held) toHub(from, payload);
    await expect(answered).resolves.toEqual({ action: 'list-cameras' });
    expect(second.counters.tampered).toBe(0);
    expect(second.counters.notForMe).toBe(1);
    // A changed bit in a message of its own session is still tampering.
    const toPhone = setup.relay.toPhone.bind(setup.relay);
    setup.relay.toPhone = (payload) => {
      const changed = payload.slice();
      if (changed[0] === Envelope.SESSION_DATA) changed[changed.length - 1]! ^= 1;
      toPhone(changed);
    };
    setup.relay.sessions.sendKeyUpdates({ epochChanged: false });
    await until('the changed one counted', () => second.counters.tampered === 1);
  });
});

describe('a camera added or removed on the hub', () => {
  it('tells the phone its cameras changed, from the new epoch\'s key update (the notice itself finds no session)', async () => {
    const setup = new Setup();
    const notices: string[] = [];
    const link = setup.link({ commandTimeoutMs: 2_000, onNotice: (n) => notices.push(n.type) });
    await link.command('list-cameras');
    const cameras = [{ id: '00112233445566778899aabbccddeeff', number: 1 }];
    // The daily rotation: a new epoch, the same cameras: nothing changed.
    setup.keys.begin(2, cameras, []);
    setup.relay.sessions.sendKeyUpdates({ epochChanged: true });
    await until('epoch 2', () => link.currentEpoch === 2);
    expect(notices.filter((n) => n === 'cameras-changed')).toHaveLength(0);
    // A camera added: the hub starts an epoch (ending every session), then notifies, into no session.
    setup.keys.begin(3, [...cameras, { id: 'ffeeddccbbaa99887766554433221100', number: 2 }], []);
    setup.relay.sessions.sendKeyUpdates({ epochChanged: true });
    setup.relay.sessions.notifyAll({ type: 'cameras-changed' });
    await until('epoch 3', () => link.currentEpoch === 3);
    expect(notices.filter((n) => n === 'cameras-changed')).toHaveLength(1);
  });
});
