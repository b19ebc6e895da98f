import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, resolveLimits } from '../../relay/limits.ts';

describe('relay limits', () => {
  it('has a finite default for every limit', () => {
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) {
      expect(Number.isSafeInteger(value), key).toBe(true);
      expect(value, key).toBeGreaterThan(0);
    }
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS.maxMessageBytes).toBe(4 * 1024 * 1024);
    expect(DEFAULT_LIMITS.authTimeoutMs).toBe(5000);
  });

  it('throws on unknown keys, bad values and conflicts', () => {
    expect(() => resolveLimits({ maxMesageBytes: 1 } as never)).toThrow(/unknown option/);
    expect(() => resolveLimits({ queueBytes: Infinity })).toThrow(/positive integer/);
    expect(() => resolveLimits({ queueBytes: 0 })).toThrow(/positive integer/);
    expect(() => resolveLimits({ authTimeoutMs: 1.5 })).toThrow(/positive integer/);
    expect(() => resolveLimits({ maxMessageBytes: 1 << 20, queueBytes: 1 << 20 })).toThrow(/queueBytes/);
    expect(() => resolveLimits({ maxConnections: 10, maxConnectionsPerAddress: 11 })).toThrow(/maxConnectionsPerAddress/);
    expect(() => resolveLimits({ maxMailboxes: 2, maxMailboxesPerHub: 3 })).toThrow(/maxMailboxesPerHub/);
    expect(() => resolveLimits({ authTimeoutMs: 60_000 })).toThrow(/authTimeoutMs/);
    expect(() => resolveLimits({ hubGraceMs: 2 ** 31 })).toThrow(/hubGraceMs/);
    expect(resolveLimits({ maxMessageBytes: 1024, queueBytes: 2048 }).queueBytes).toBe(2048);
  });
});
