// The owner phones' cross-check (PROTOCOL §16.4) as a user runs it: a real relay, a real hub
// (`vigil hub`) and two owner command-line phones. Nobody starts a cross-check by hand: one phone
// follows events for a while (a long-running command keeps its mailbox open and answers), the
// other asks `vigil-phone roster --json`, which sends a round and waits briefly for the answer.
// (Ending a cross-check with the command is roster's own path: it opens, answers and closes in it.)
// Both end with "cross-checked with the other: same log", and no split.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { VIGIL_PHONE, pairPhone, run, start, startHub, startRelay, stopAll, tempDir } from '../support/system.ts';

afterAll(async () => {
  await stopAll();
});

interface PhoneRoster {
  length: number;
  crossChecked: Record<string, { checkedAt: number; length: number; agrees: boolean }>;
  splits: unknown[];
  crossCheckRound?: { reached: string[]; offline: string[]; answered: string[] };
}

async function phoneRoster(profile: string): Promise<{ roster: PhoneRoster; stderr: string; ms: number }> {
  const t0 = Date.now();
  const r = await run(VIGIL_PHONE, ['roster', '--profile', profile, '--json'], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return { roster: JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as PhoneRoster, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('owner phones cross-check the roster log by themselves (real hub, relay and vigil-phone)', () => {
  it('one phone following events, the other asking for the roster: both cross-checked with the other, same log', async () => {
    const dir = join(tempDir(), 'hub');
    const relay = await startRelay('127.0.0.1:0');
    await startHub(dir, relay.url, ['--no-lan']);
    const annPath = join(dir, '..', 'ann.json');
    const beaPath = join(dir, '..', 'bea.json');
    const ann = await pairPhone(dir, annPath, 'Ann');
    const bea = await pairPhone(dir, beaPath, 'Bea');

    // Bea follows events: at its start its round finds Ann offline (no mailbox open), then it waits.
    const follow = start(VIGIL_PHONE, ['events', '--profile', beaPath, '--follow', '--seconds', '90'], { maxSeconds: 120 });
    await follow.waitFor(/cross-check: with 1 other owner phone while this runs \(0 reached, 1 offline\)/, 30_000);

    // Ann asks for the roster: its round reaches Bea, which compares and answers within the 2 s.
    const a = await phoneRoster(annPath);
    expect(a.roster.crossCheckRound, a.stderr).toEqual({ reached: [bea.deviceId], offline: [], answered: [bea.deviceId] });
    expect(a.roster.crossChecked[bea.deviceId]).toMatchObject({ agrees: true, length: 2 });
    expect(a.roster.splits).toEqual([]);
    expect(a.stderr).not.toMatch(/cross-check:|LOG SPLIT/);

    // Bea, still following, took Ann's check and kept it in its profile (said on stderr once saved);
    // then its user stops it (Ctrl-C) rather than the test waiting out the follow.
    await follow.waitFor(/cross-check with "Ann": same log \(2 entries\)/, 5_000);
    expect(follow.output()).not.toMatch(/LOG SPLIT|cross-check: (?!with 1 other)/);
    await follow.stop('SIGINT');
    const beaStarted = Date.now();
    const b = await phoneRoster(beaPath);
    // What it shows is from the follow: Ann is offline now (its roster command ended).
    expect(b.roster.crossCheckRound).toEqual({ reached: [], offline: [ann.deviceId], answered: [] });
    expect(b.roster.crossChecked[ann.deviceId]).toMatchObject({ agrees: true, length: 2 });
    expect(b.roster.crossChecked[ann.deviceId]!.checkedAt).toBeLessThan(beaStarted);
    expect(b.roster.splits).toEqual([]);
    // Nobody else to wait for: a roster with every other owner offline does not wait for answers.
    expect(b.ms).toBeLessThan(a.ms + 10_000);
  }, 120_000);
});
