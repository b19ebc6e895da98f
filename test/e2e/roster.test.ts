// The roster log end to end (issue 18, PROTOCOL §16): real relay, hub and command-line phones.
// A phone added with nothing but the hub's local API token shows as an alert on the owner's phone;
// both sides show the same safety code; and the two ways a hub could hand out keys behind the
// owners' backs are performed here, each refused by the phone: a device added to the store without
// a log entry (its key updates name a roster not in the log), and a log rewritten after the phone
// checked it.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cryptoReady } from '../../crypto/sodium.ts';
import { importHubIdentity, newDeviceIdentity, newSigningKeyPair } from '../../crypto/identity.ts';
import { encodeCertificate, issueCertificate } from '../../crypto/certificate.ts';
import { entryHash, signRosterEntry, certificateFingerprint } from '../../crypto/roster-log.ts';
import { openStore } from '../../main/store/db.ts';
import { VIGIL, VIGIL_PHONE, pairPhone, run, startHub, startRelay, stopAll, tempDir } from '../support/system.ts';

afterAll(async () => {
  await stopAll();
});

interface PhoneRoster {
  safetyCode: string;
  length: number;
  members: { id: string; name: string; role: string }[];
  unseen: { change: string; name: string; role: string; by: string }[];
  refused: { rosterMismatch: number; rosterForked: number };
}

async function phoneRoster(profile: string): Promise<{ code: number | null; roster: PhoneRoster; stderr: string }> {
  const r = await run(VIGIL_PHONE, ['roster', '--profile', profile, '--json'], { timeoutMs: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { code: r.code, roster: JSON.parse(line) as PhoneRoster, stderr: r.stderr };
}

async function hubRoster(dir: string): Promise<{ safetyCode: string; entries: { change: string; name: string; by: string }[] }> {
  const r = await run(VIGIL, ['roster', '--data', dir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const last = lines.pop() as { safetyCode: string };
  return { safetyCode: last.safetyCode, entries: lines as unknown as { change: string; name: string; by: string }[] };
}

describe('the roster log', () => {
  it('a phone approved with only the local API token is an alert on the owner\'s phone; hub and phones show one safety code', async () => {
    const dir = join(tempDir(), 'hub');
    const relay = await startRelay('127.0.0.1:0');
    await startHub(dir, relay.url, ['--no-lan']);
    const owner = join(dir, '..', 'owner.json');
    const other = join(dir, '..', 'other.json');
    await pairPhone(dir, owner, 'Anna');
    const first = await phoneRoster(owner);
    expect(first.code, first.stderr).toBe(0);
    // Its own addition is history, not news.
    expect(first.roster.unseen).toEqual([]);
    expect(first.roster.members.map((m) => m.name)).toEqual(['Anna']);

    // `vigil invite --yes`: approved through the local API, no UI, no phone involved.
    await pairPhone(dir, other, 'Pixel 8', 'viewer');
    const alerts = await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(alerts.code, alerts.stderr).toBe(0);
    const shown = alerts.stdout.trim().split('\n').map((l) => JSON.parse(l) as { change: string; name: string; role: string; by: string });
    expect(shown).toEqual([expect.objectContaining({ change: 'added', name: 'Pixel 8', role: 'viewer', by: 'the hub\'s owner (local API)' })]);
    // Acknowledged, it is not shown again.
    expect((await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--ack'], { timeoutMs: 60_000 })).code).toBe(0);
    const after = await run(VIGIL_PHONE, ['alerts', '--profile', owner, '--json'], { timeoutMs: 60_000 });
    expect(after.stdout.trim()).toBe('');

    const hub = await hubRoster(dir);
    expect(hub.entries.map((e) => `${e.change} ${e.name}`)).toEqual(['added Anna', 'added Pixel 8']);
    const [a, b] = await Promise.all([phoneRoster(owner), phoneRoster(other)]);
    expect(a.roster.safetyCode).toMatch(/^\d{5}( \d{5}){5}$/);
    expect(a.roster.safetyCode).toBe(hub.safetyCode);
    expect(b.roster.safetyCode).toBe(hub.safetyCode);
  }, 240_000);

  it('keys for a device the log does not list are refused; a log rewritten after the phone checked it is refused', async () => {
    await cryptoReady();
    const dir = join(tempDir(), 'hub');
    const relay = await startRelay('127.0.0.1:0');
    let hub = await startHub(dir, relay.url, ['--no-lan']);
    const owner = join(dir, '..', 'owner.json');
    await pairPhone(dir, owner, 'Anna');
    await pairPhone(dir, join(dir, '..', 'guest.json'), 'Guest', 'viewer');
    const seen = await phoneRoster(owner);
    expect(seen.code, seen.stderr).toBe(0);
    expect(seen.roster.length).toBe(2);

    // A tampered hub (or anyone with its store) adds a device behind the log's back.
    await hub.stop();
    const store = openStore(dir);
    const identity = importHubIdentity(store.getOrCreateHubIdentity(() => {
      throw new Error('no hub identity');
    }));
    const intruder = newDeviceIdentity();
    const certificate = issueCertificate(identity, {
      deviceId: intruder.deviceId, signingKey: intruder.signing.publicKey, exchangeKey: intruder.exchange.publicKey,
      pqKey: intruder.pq.publicKey, relayKey: newSigningKeyPair('relay').publicKey,
    }, 'owner', Math.floor(Date.now() / 1000));
    store.addDevice({ name: 'Intruder', certificate });
    store.close();
    hub = await startHub(dir, relay.url, ['--no-lan']);
    const silent = await phoneRoster(owner);
    // The hub's new epoch names a roster with the intruder: the phone refuses those keys.
    expect(silent.roster.refused.rosterMismatch, silent.stderr).toBeGreaterThan(0);
    expect(silent.stderr).toMatch(/names a roster that is not the log's: refused/);
    expect(silent.roster.members.map((m) => m.name).sort()).toEqual(['Anna', 'Guest']);

    // The hub rewrites history: the guest's entry replaced by another, properly signed, entry.
    await hub.stop();
    const db = new Database(join(dir, 'hub.db'));
    db.prepare('DELETE FROM roster_log WHERE seq >= 1').run();
    db.close();
    const store2 = openStore(dir);
    store2.appendRosterEntry((last) => signRosterEntry(identity, {
      seq: 1, prev: entryHash(last!.entry), at: Date.now(), change: 'added', deviceId: intruder.deviceId,
      fingerprint: certificateFingerprint(encodeCertificate(certificate)), name: 'Guest', role: 'viewer', by: 'the hub\'s owner (local API)',
    }));
    store2.close();
    await startHub(dir, relay.url, ['--no-lan']);
    const forked = await phoneRoster(owner);
    expect(forked.code).toBe(1);
    expect(forked.roster.refused.rosterForked).toBeGreaterThan(0);
    expect(forked.stderr).toMatch(/does not extend the one this phone checked/);
  }, 240_000);
});
