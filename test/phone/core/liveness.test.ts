// The phone's judgement of how old the newest picture is (issue 14, finding 1), with a clock the
// test moves: an honest hub, a relay that replays old frames, one that delays the stream, one that
// delays everything (the round trip gives it away), and the hub's clock being set.
import { describe, expect, it } from 'vitest';
import { LiveClock } from '../../../phone/core/liveness.ts';

/** The hub's wall clock is this far ahead of the phone's monotonic clock. */
const OFFSET = 1_700_000_000_000;

function setup() {
  let t = 1000;
  const clock = new LiveClock({ now: () => t });
  return {
    clock,
    advance: (ms: number) => {
      t += ms;
    },
    /** What the hub's clock reads now. */
    hubNow: () => t + OFFSET,
  };
}

/** A watch round trip: `up` ms to the hub, `down` ms back. */
function roundTrip(s: ReturnType<typeof setup>, up: number, down: number, stream = 1): void {
  const sentAt = s.clock.now();
  s.advance(up);
  const hubTime = s.hubNow();
  s.advance(down);
  s.clock.answered(sentAt, hubTime, stream);
}

describe('LiveClock', () => {
  it('waits for a round trip and a picture, then says live while frames keep coming', () => {
    const s = setup();
    expect(s.clock.liveness(1).state).toBe('waiting');
    roundTrip(s, 20, 30);
    expect(s.clock.liveness(1)).toMatchObject({ state: 'waiting', reason: 'no picture yet' });
    for (let i = 0; i < 20; i++) {
      s.clock.frame(1, s.hubNow() - 100);
      s.advance(300);
      const l = s.clock.liveness(1);
      expect(l.state).toBe('live');
      expect(l.lagAtLeastMs!).toBeLessThanOrEqual(400);
      expect(l.lagAtMostMs! - l.lagAtLeastMs!).toBeLessThanOrEqual(50);
    }
  });

  it('frames recorded earlier and played to a freshly opened phone: not live', () => {
    const s = setup();
    const recorded = [0, 300, 600].map((d) => s.hubNow() + d);
    s.advance(120_000); // two minutes later, a new phone opens
    roundTrip(s, 10, 10);
    for (const c of recorded) s.clock.frame(1, c);
    const l = s.clock.liveness(1);
    expect(l.state).toBe('not-live');
    expect(l.lagAtLeastMs!).toBeGreaterThan(119_000);
    expect(l.reason).toMatch(/at least 1\d\d s old/);
  });

  it('the stream held back by 60 s while session messages pass: not live', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    s.advance(60_000);
    s.clock.frame(1, s.hubNow() - 60_000);
    expect(s.clock.liveness(1)).toMatchObject({ state: 'not-live' });
    expect(s.clock.liveness(1).lagAtLeastMs!).toBeGreaterThanOrEqual(59_000);
  });

  it('everything held back by 60 s from the start: the round trip is too long to confirm anything', () => {
    const s = setup();
    roundTrip(s, 60_000, 60_000);
    // Frames and notices are as late as the answer: each looks fresh to a one-way check.
    s.clock.notice(s.hubNow() - 60_000);
    s.clock.frame(1, s.hubNow() - 60_000);
    const l = s.clock.liveness(1);
    expect(l.state).toBe('not-live');
    expect(l.reason).toMatch(/cannot confirm/);
    expect(l.lagAtMostMs!).toBeGreaterThan(100_000);
  });

  it('an answer slow to come back (the GOP went first on a slow uplink) still proves live; notices sharpen the rest', () => {
    const s = setup();
    roundTrip(s, 50, 3_000);
    s.clock.frame(1, s.hubNow());
    s.advance(100);
    // The upper bound comes from when the request left: a slow way back does not loosen it.
    expect(s.clock.liveness(1).state).toBe('live');
    expect(s.clock.liveness(1).lagAtMostMs!).toBeLessThan(200);
    expect(s.clock.liveness(1).lagAtLeastMs!).toBe(0);
    // A prompt clock notice narrows the lower bound.
    s.clock.notice(s.hubNow() - 20);
    s.advance(1_000);
    const l = s.clock.liveness(1);
    expect(l.lagAtLeastMs!).toBeGreaterThan(1_000);
    expect(l.lagAtMostMs! - l.lagAtLeastMs!).toBeLessThanOrEqual(70);
  });

  it('warns ("late") before it says not live', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    s.clock.frame(1, s.hubNow());
    s.advance(6_000);
    expect(s.clock.liveness(1).state).toBe('late');
    s.advance(5_000);
    expect(s.clock.liveness(1).state).toBe('not-live');
  });

  it('no picture at all long after watching began: not live', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    s.advance(11_000);
    expect(s.clock.liveness(1)).toMatchObject({ state: 'not-live' });
    expect(s.clock.liveness(1).reason).toMatch(/no picture/);
  });

  it('clock notices arriving late ask for a new round trip', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    s.clock.notice(s.hubNow() - 20);
    expect(s.clock.remeasure).toBe(false);
    s.advance(5_000);
    s.clock.notice(s.hubNow() - 8_000);
    expect(s.clock.remeasure).toBe(true);
    roundTrip(s, 10, 10);
    expect(s.clock.remeasure).toBe(false);
  });

  it('the hub\'s clock set forward: not live until measured again, then live', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    const jump = 30_000;
    const hubNow = () => s.hubNow() + jump;
    expect(s.clock.stepped).toBe(false);
    s.clock.notice(hubNow() - 5);
    expect(s.clock.remeasure).toBe(true);
    expect(s.clock.stepped).toBe(true);
    s.clock.frame(1, hubNow() - 100);
    expect(s.clock.liveness(1).state).toBe('not-live');
    const sentAt = s.clock.now();
    s.advance(10);
    const h = hubNow();
    s.advance(10);
    s.clock.answered(sentAt, h, 1);
    s.clock.frame(1, hubNow() - 100);
    expect(s.clock.liveness(1).state).toBe('live');
    expect(s.clock.stepped).toBe(false);
  });


  it('the hub\'s clock set back: a new round trip replaces the old bounds', () => {
    const s = setup();
    roundTrip(s, 10, 10);
    const back = -30_000;
    const hubNow = () => s.hubNow() + back;
    s.clock.frame(1, hubNow());
    expect(s.clock.liveness(1).state).toBe('not-live'); // it looks 30 s old until measured again
    const sentAt = s.clock.now();
    s.advance(10);
    const h = hubNow();
    s.advance(10);
    s.clock.answered(sentAt, h, 1);
    s.clock.frame(1, hubNow() - 50);
    expect(s.clock.liveness(1).state).toBe('live');
  });

  it('refuses thresholds that make no sense', () => {
    expect(() => new LiveClock({ lateMs: 0 })).toThrow(RangeError);
    expect(() => new LiveClock({ lateMs: 5000, notLiveMs: 1000 })).toThrow(RangeError);
  });
});
