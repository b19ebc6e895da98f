// Pairing the phone app the way a user does: `vigil invite --yes` on the hub, and the app opened at
// the invite's link (`#pair=`), which it reads from its address at start.
import type { Page } from 'playwright-core';
import { VIGIL, start } from '../../support/system.ts';

/** Pairs the app in `page` (served at `appUrl`) with the hub of `dataDir`; resolves with its device id. */
export async function pairInApp(page: Page, appUrl: string, dataDir: string, inviteArgs: readonly string[] = []): Promise<string> {
  const invite = start(VIGIL, ['invite', '--data', dataDir, '--yes', ...inviteArgs], { maxSeconds: 90 });
  try {
    const [, link] = await invite.waitFor(/pairing link: (\S+)/, 40_000);
    await page.goto(`${appUrl}#pair=${link!.slice('vigil://pair/'.length)}`);
    const [, device] = await invite.waitFor(/paired "[^"]*" as \w+ \(device ([0-9a-f]{32})\)/, 40_000);
    return device!;
  } finally {
    await invite.stop();
  }
}
