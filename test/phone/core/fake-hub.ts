// A hub's sessions and keys in process, reached by HubLink through an in-memory relay the test
// controls: it records, drops and injects what passes. Real crypto on both ends and a real SQLite
// store; only the network is fake.
import { issueCertificate } from '../../../crypto/certificate.ts';
import { equalBytes } from '../../../crypto/bytes.ts';
import { hubPublicKeys, newDeviceIdentity, newSigningKeyPair, type HubIdentity } from '../../../crypto/identity.ts';
import { sealKeyUpdateOffline } from '../../../crypto/keyupdate.ts';
import { Envelope, encodeEnvelope } from '../../../crypto/messages.ts';
import { EpochKeys } from '../../../main/epoch-keys.ts';
import { PhoneSessions, type CommandHandler } from '../../../main/phone-sessions.ts';
import type { Store } from '../../../main/store/db.ts';
import { HubLink, type HubLinkOptions } from '../../../phone/core/hub-link.ts';
import type { PhoneProfile } from '../../../phone/core/profile.ts';
import type { RelayClient, RelayClientOptions, RelayClientState } from '../../../relay/client.ts';
import { open, tempDataDir } from '../../main/store/helpers.ts';

/** A relay in memory between one phone and one hub; `filter` plays a hostile relay. */
export class FakeRelay {
  sessions!: PhoneSessions;
  phone: FakeClient | undefined;
  /** Return false to drop: direction and the envelope kind. */
  filter: (to: 'hub' | 'phone', kind: number) => boolean = () => true;
  closed = false;

  constructor(readonly hubRelayKey: Uint8Array) {}

  toHub(from: Uint8Array, payload: Uint8Array): void {
    if (!this.filter('hub', payload[0]!)) return;
    setImmediate(() => {
      if (!this.closed) this.sessions.onMessage(from, payload);
    });
  }

  toPhone(payload: Uint8Array): void {
    if (!this.filter('phone', payload[0]!)) return;
    this.inject(payload);
  }

  /** What a hostile relay hands the phone as coming from its hub (recorded earlier, say). */
  inject(payload: Uint8Array): void {
    const phone = this.phone;
    setImmediate(() => phone?.options.onMessage?.(this.hubRelayKey, payload));
  }
}

/** The part of RelayClient HubLink uses. */
export class FakeClient {
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
    if (!equalBytes(to, this.relay.hubRelayKey)) throw new Error('only the hub here');
    this.relay.toHub(this.options.publicKey, payload);
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async waitReady(): Promise<void> {}
  async close(): Promise<void> {
    this.#set('closed');
  }
}

export class FakeHub {
  readonly relay: FakeRelay;
  readonly keys: EpochKeys;
  readonly store: Store = open(tempDataDir());
  readonly profile: PhoneProfile;
  readonly links: HubLink[] = [];
  /** Every command the hub ran, by action, in order. */
  readonly commands: string[] = [];
  /** How the hub answers a command (a test makes it slow, or refuse). */
  answer: CommandHandler = async (command) => ({ action: command.action });

  constructor(readonly identity: HubIdentity) {
    this.relay = new FakeRelay(identity.relay.publicKey);
    this.keys = new EpochKeys(identity);
    const device = newDeviceIdentity();
    const relayKey = newSigningKeyPair('relay');
    const certificate = issueCertificate(identity, {
      deviceId: device.deviceId, signingKey: device.signing.publicKey, exchangeKey: device.exchange.publicKey,
      pqKey: device.pq.publicKey, relayKey: relayKey.publicKey,
    }, 'owner', Math.floor(Date.now() / 1000));
    this.store.addDevice({ name: 'phone', certificate });
    this.profile = {
      name: 'phone', device, relayKey, hub: hubPublicKeys(identity), certificate, relays: ['ws://relay.invalid/v1'], lanUrls: [],
      lastSeq: 0n, pairedAt: Date.now(),
    };
    this.start();
  }

  /** Starts (or restarts) the hub's sessions: they live in memory only. */
  start(): void {
    this.relay.sessions?.closeAll();
    this.relay.sessions = new PhoneSessions(this.identity, this.store, { send: async (_to, payload) => this.relay.toPhone(payload) },
      (id) => this.keys.keyUpdateFor(id), (command, device) => {
        this.commands.push(command.action);
        return this.answer(command, device);
      }, () => undefined, () => undefined);
  }

  /** The current epoch's key update for the phone, sealed to its X-Wing key (KEY_UPDATE_OFFLINE). */
  offlineKeyUpdate(): Uint8Array {
    const { deviceId, pq } = this.profile.device;
    return encodeEnvelope(Envelope.KEY_UPDATE_OFFLINE, sealKeyUpdateOffline(this.identity.hubId, { deviceId, pqKey: pq.publicKey }, this.keys.keyUpdateFor(deviceId)));
  }

  link(options: Partial<HubLinkOptions> = {}, profile: PhoneProfile = this.profile): HubLink {
    const link = new HubLink({
      profile,
      relayFactory: (o) => new FakeClient(this.relay, o) as unknown as RelayClient,
      ...options,
    });
    this.links.push(link);
    return link;
  }

  async close(): Promise<void> {
    for (const l of this.links.splice(0)) await l.close();
    this.relay.closed = true;
    this.relay.sessions.closeAll();
  }
}

/** Lets what the relay handed over (one setImmediate each) reach the phone. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** Waits for a condition, polling; fails after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
