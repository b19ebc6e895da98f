// Owner phones cross-check the roster log's head through a real relay (PROTOCOL §16.4).
//
// The hub here is a test double, as the issue allows: the real hub's sessions (PhoneSessions, real
// Noise, a real SQLite store) logged in to a real relay with a real RelayClient, whose `roster-log`
// answer the test writes. A real hub never serves two phones two logs, so no seam of the real hub
// could show the attack without adding a fork switch to production code; the phones (HubLink,
// RosterSync, CrossChecker) and the relay are the real ones, and they alone decide.
import WebSocket from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toBase64url, toHex } from '../../crypto/bytes.ts';
import { encodeCertificate, issueCertificate, type DeviceCertificate } from '../../crypto/certificate.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, sign, type HubIdentity } from '../../crypto/identity.ts';
import { certificateFingerprint, entryHash, GENESIS, signRosterEntry } from '../../crypto/roster-log.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { EpochKeys } from '../../main/epoch-keys.ts';
import { PhoneSessions } from '../../main/phone-sessions.ts';
import { CrossChecker } from '../../phone/core/crosscheck.ts';
import { HubLink } from '../../phone/core/hub-link.ts';
import type { PhoneProfile } from '../../phone/core/profile.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';
import { signCapability } from '../../relay/codec.ts';
import { startRelay, type RelayHandle } from '../../relay/server.ts';
import { open, tempDataDir } from '../main/store/helpers.ts';

const relayFactory = (o: RelayClientOptions) => new RelayClient({ ...o, WebSocket: WebSocket as unknown as WebSocketConstructor });

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Phone { profile: PhoneProfile; cert: DeviceCertificate; name: string }

/** A hub on the real relay whose roster log, per phone, is what `logFor` says. */
class HubDouble {
  readonly store = open(tempDataDir());
  readonly keys: EpochKeys;
  readonly phones: Phone[] = [];
  client!: RelayClient;
  sessions!: PhoneSessions;
  logFor: (deviceId: string) => Uint8Array[] = () => [];
  constructor(readonly identity: HubIdentity, readonly relay: RelayHandle) {
    this.keys = new EpochKeys(identity);
  }

  addPhone(name: string): Phone {
    const device = newDeviceIdentity();
    const relayKey = newSigningKeyPair('relay');
    const cert = issueCertificate(this.identity, {
      deviceId: device.deviceId, signingKey: device.signing.publicKey, exchangeKey: device.exchange.publicKey,
      pqKey: device.pq.publicKey, relayKey: relayKey.publicKey,
    }, 'owner', Math.floor(Date.now() / 1000));
    this.store.addDevice({ name, certificate: cert });
    const profile: PhoneProfile = { name, device, relayKey, hub: hubPublicKeys(this.identity), certificate: cert, relays: [this.relay.url], lanUrls: [], lastSeq: 0n, pairedAt: Date.now() };
    const p = { profile, cert, name };
    this.phones.push(p);
    return p;
  }

  /** One signed entry; `prev` the entry before it (undefined for the first). */
  entry(seq: number, prev: Uint8Array | undefined, name: string, cert: DeviceCertificate): Uint8Array {
    return signRosterEntry(this.identity, {
      seq, prev: prev === undefined ? GENESIS : entryHash(prev), at: Date.now(), change: 'added', deviceId: cert.deviceId,
      fingerprint: certificateFingerprint(encodeCertificate(cert)), name, role: cert.role, by: 'the hub\'s owner (local API)',
    });
  }

  async start(): Promise<void> {
    // An epoch with no cameras: its key updates name a roster (not the log's; held, and beside the point here).
    this.keys.begin(1, [], []);
    this.client = relayFactory({
      url: this.relay.url, publicKey: this.identity.relay.publicKey, sign: (m) => sign(this.identity.relay, m),
      onMessage: (from, payload) => this.sessions.onMessage(from, payload),
    });
    this.sessions = new PhoneSessions(this.identity, this.store, { send: (to, payload) => this.client.send(to, payload) },
      (id) => this.keys.keyUpdateFor(id), async (command, device) => {
        const args = command.args as Record<string, unknown>;
        if (command.action === 'roster-log') {
          const log = this.logFor(device.id);
          return { entries: log.slice(Number(args.since)).map(toBase64url), length: log.length };
        }
        if (command.action === 'device-certificate') {
          const p = this.phones.find((x) => toHex(x.cert.deviceId) === args.device);
          return { certificate: toBase64url(encodeCertificate(p!.cert)) };
        }
        if (command.action === 'list-cameras') return [];
        return {};
      });
    await this.client.waitReady();
    for (const p of this.phones) {
      await this.client.grant(signCapability({ hubRelayId: this.identity.relay.publicKey, deviceRelayId: p.profile.relayKey.publicKey, rights: 3, expiresAt: Math.floor(Date.now() / 1000) + 3600 }, (m) => sign(this.identity.relay, m)));
    }
  }

  async close(): Promise<void> {
    this.sessions?.closeAll();
    await this.client?.close();
  }
}

describe('roster log cross-check between owner phones (real relay, hub double)', () => {
  let relay: RelayHandle;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    await cryptoReady();
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** Two owner phones, each with its link and cross-checker; the hub serves `fork` to Bea if given. */
  async function setUp(fork: boolean) {
    relay = await startRelay({ host: '127.0.0.1', port: 0 });
    closers.push(() => relay.close());
    const hub = new HubDouble(newHubIdentity(), relay);
    closers.push(() => hub.close());
    const ann = hub.addPhone('Ann');
    const bea = hub.addPhone('Bea');
    const e0 = hub.entry(0, undefined, 'Ann', ann.cert);
    const e1 = hub.entry(1, e0, 'Bea', bea.cert);
    // A device shown to Ann only, and another to Bea only: logs of one length with different heads.
    const hidden = hub.addPhone('Mallory');
    const other = hub.addPhone('Trudy');
    const forAnn = [e0, e1, hub.entry(2, e1, 'Mallory', hidden.cert)];
    const forBea = fork ? [e0, e1, hub.entry(2, e1, 'Trudy', other.cert)] : forAnn;
    hub.logFor = (id) => (id === toHex(bea.cert.deviceId) ? forBea : forAnn);
    await hub.start();
    const run = async (p: Phone) => {
      const link = new HubLink({ profile: p.profile, relayFactory });
      closers.push(() => link.close());
      await link.ready();
      await link.syncRoster();
      const problems: string[] = [];
      const checker = new CrossChecker({ link, profile: p.profile, relayFactory, relayUrl: relay.url, onProblem: (w) => problems.push(w) });
      closers.push(() => checker.close());
      expect(await checker.start()).toBe(true);
      return { link, checker, problems };
    };
    const a = await run(ann);
    const b = await run(bea);
    return { a, b, ann, bea };
  }

  it('a hub that shows two phones different logs: both phones alert on the split', async () => {
    const { a, b, ann, bea } = await setUp(true);
    expect(a.link.rosterLog.length).toBe(3);
    expect(b.link.rosterLog.length).toBe(3);
    // Bea sends; Ann finds the split and answers; Bea finds it in the answer.
    const round = await b.checker.round();
    expect(round.sent).toEqual([toHex(ann.cert.deviceId)]);
    await until('both phones see the split', () => (a.link.rosterLog.saved.splits?.length ?? 0) > 0 && (b.link.rosterLog.saved.splits?.length ?? 0) > 0);
    const atAnn = a.link.rosterLog.saved.splits![0]!;
    expect(atAnn).toMatchObject({ type: 'log-split', peer: toHex(bea.cert.deviceId), peerName: 'Bea', why: 'entry 2 differs', acknowledged: false });
    expect(b.link.rosterLog.saved.splits![0]).toMatchObject({ type: 'log-split', peer: toHex(ann.cert.deviceId), why: 'entry 2 differs' });
    expect(a.link.rosterLog.saved.crossChecked?.[toHex(bea.cert.deviceId)]?.agrees).toBe(false);
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it('control: logs that agree raise no alert, and each phone notes when it last cross-checked with the other', async () => {
    const { a, b, ann, bea } = await setUp(false);
    await b.checker.round();
    await until('both phones cross-checked', () => a.link.rosterLog.saved.crossChecked?.[toHex(bea.cert.deviceId)] !== undefined
      && b.link.rosterLog.saved.crossChecked?.[toHex(ann.cert.deviceId)] !== undefined);
    expect(a.link.rosterLog.saved.crossChecked![toHex(bea.cert.deviceId)]).toMatchObject({ agrees: true, length: 3 });
    expect(b.link.rosterLog.saved.crossChecked![toHex(ann.cert.deviceId)]).toMatchObject({ agrees: true, length: 3 });
    expect(a.link.rosterLog.saved.splits ?? []).toEqual([]);
    expect(b.link.rosterLog.saved.splits ?? []).toEqual([]);
    // A replay of what Bea sent (the relay or hub keeping it) is refused, not taken again.
    expect(a.problems).toEqual([]);
  });
});
