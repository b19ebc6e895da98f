// Command-line times (lib/time-arg.ts): ISO 8601 and now±N, on a fixed `now`.
import { describe, expect, it } from 'vitest';
import { TimeArgError, isoTime, parseTimeArg } from '../../lib/time-arg.ts';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('parseTimeArg', () => {
  it('reads now and now±N in ms, s, m, h, d, and sums of them', () => {
    expect(parseTimeArg('now', NOW)).toBe(NOW);
    expect(parseTimeArg('now-90s', NOW)).toBe(NOW - 90_000);
    expect(parseTimeArg('now-2h', NOW)).toBe(NOW - 7_200_000);
    expect(parseTimeArg('now+2h', NOW)).toBe(NOW + 7_200_000);
    expect(parseTimeArg('now-1h30m', NOW)).toBe(NOW - 5_400_000);
    expect(parseTimeArg('now-1.5d', NOW)).toBe(NOW - 1.5 * 86_400_000);
    expect(parseTimeArg('now-250ms', NOW)).toBe(NOW - 250);
    expect(parseTimeArg(' now-3m ', NOW)).toBe(NOW - 180_000);
  });

  it('reads ISO 8601 with a zone, and a date alone as UTC midnight', () => {
    expect(parseTimeArg('2026-03-01T10:00:00Z', NOW)).toBe(Date.UTC(2026, 2, 1, 10));
    expect(parseTimeArg('2026-03-01T10:00:00.250+01:00', NOW)).toBe(Date.UTC(2026, 2, 1, 9, 0, 0, 250));
    expect(parseTimeArg('2026-03-01 10:00Z', NOW)).toBe(Date.UTC(2026, 2, 1, 10));
    expect(parseTimeArg('2026-03-01', NOW)).toBe(Date.UTC(2026, 2, 1));
    expect(isoTime(Date.UTC(2026, 2, 1, 10))).toBe('2026-03-01T10:00:00.000Z');
  });

  it('refuses anything else with a typed error that does not echo the text', () => {
    for (const bad of ['', '-90s', 'now-', 'now-90', 'now-90x', 'now--1s', 'yesterday', '1700000000000', '2026-13-45T99:99Z',
      'now-999999999d', '2026-03-01T10:00:00Zjunk']) {
      expect(() => parseTimeArg(bad, NOW), bad).toThrow(TimeArgError);
    }
    try {
      parseTimeArg('secret-looking-text', NOW);
    } catch (e) {
      expect((e as Error).message).not.toContain('secret');
    }
  });
});
