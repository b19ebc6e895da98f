// `vigil hub --ui`: off loopback only with an explicit flag.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, runProgram, stopAll, tempDir } from './harness.ts';

afterAll(stopAll);

describe('vigil hub --ui', () => {
  it('refuses a non-loopback address without --ui-allow-remote', async () => {
    const r = await runProgram(join(ROOT, 'bin', 'vigil'), ['hub', '--data', join(tempDir('vigil-cli-ui-'), 'hub'), '--ui', '0.0.0.0:0'], { timeoutMs: 20_000 }).done;
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/not a loopback address: add --ui-allow-remote/);
    expect(r.output).not.toMatch(/^ui: /m);
  });
});
