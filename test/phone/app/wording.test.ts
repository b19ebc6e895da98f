// The phone app names the hub's menu entries as the hub's UI does: a newcomer told to choose "Add a
// phone" found only "Pair a phone".
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../support/system.ts';

const page = readFileSync(join(ROOT, 'phone/app/static/index.html'), 'utf8');
const hubNav = readFileSync(join(ROOT, 'renderer/app.ts'), 'utf8');
/** The hub UI's menu labels: NAV's [route, label] pairs. */
const menu = [...(/const NAV[^=]*=\s*\[([\s\S]*?)\n\];/.exec(hubNav)?.[1] ?? '').matchAll(/\['[a-z-]+', '([^']+)'\]/g)].map((m) => m[1]!);

describe('phone app wording', () => {
  it('reads the hub menu', () => {
    expect(menu).toContain('Cameras');
  });

  it('every "on the hub, choose X" names an entry of the hub\'s menu', () => {
    const named = [...page.matchAll(/on the hub, (?:choose )?<em>([^<]+)<\/em>/gi)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThanOrEqual(2); // the pair screen and the removed screen
    for (const label of named) expect(menu, label).toContain(label);
  });
});
