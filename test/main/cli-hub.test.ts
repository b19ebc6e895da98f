// `vigil hub --fragment-ms`: a bad value is one clear line and a non-zero exit, before anything starts.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { VIGIL, run, stopAll, tempDir } from '../support/system.ts';

afterAll(stopAll);

describe('vigil hub --fragment-ms', () => {
  for (const bad of ['2.5', '-1', '2001', 'fast']) {
    it(`refuses ${bad}`, async () => {
      const data = join(tempDir('vigil-cli-hub-'), 'hub');
      const r = await run(VIGIL, ['hub', '--data', data, `--fragment-ms=${bad}`], { timeoutMs: 20_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--fragment-ms wants a whole number of milliseconds 0\.\.2000/);
      expect(r.stdout).not.toMatch(/running/);
      expect(existsSync(data)).toBe(false); // refused before the hub made its data directory
    });
  }
});
