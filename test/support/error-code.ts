// The check every parser test makes of a refusal: the error is of the module's typed class and
// carries the expected stable code (native/fmp4.ts Fmp4Error, native/h26x.ts H26xError, …).
import { expect } from 'vitest';

export function expectErrorCode<E extends Error & { code: string }>(kind: new (...args: never[]) => E, fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(kind);
  expect((caught as E).code).toBe(code);
}
