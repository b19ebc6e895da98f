// `vigil-phone share-history`: an owner phone gives another phone the recordings made before it
// was paired (phone/core/history-share.ts). Refusals say their code: the hub's (forbidden for a
// viewer, no-such-phone for a removed one) or this phone's own checks before anything was sent.
import { CommandError, type HubLink } from './core/hub-link.ts';
import { HistoryShareError, shareHistory } from './core/history-share.ts';
import type { PhoneProfile } from './core/profile.ts';

export async function printShare(link: HubLink, profile: PhoneProfile, opts: { phone: string; from?: number; json: boolean }): Promise<number> {
  await link.ready();
  try {
    const r = await shareHistory(link, profile, { to: opts.phone, ...(opts.from !== undefined ? { from: opts.from } : {}) });
    for (const why of r.refused) console.error(`recording key refused: ${why}`);
    if (opts.json) console.log(JSON.stringify({ to: r.to, epochs: r.epochs, stored: r.stored, held: r.held, entries: r.entries }));
    else {
      const range = `${r.epochs.length} recording epoch${r.epochs.length === 1 ? '' : 's'} (${r.epochs[0]}..${r.epochs.at(-1)})`;
      console.log(`shared ${range} with "${r.to.name}" (${r.to.id.slice(0, 8)}): ${r.stored} stored for it, ${r.held} it held already`);
      if (r.entries.length > 0) console.log(`roster log entr${r.entries.length === 1 ? 'y' : 'ies'} ${r.entries.join(', ')}: every phone sees this as an alert`);
    }
    return 0;
  } catch (e) {
    if (e instanceof HistoryShareError || (e instanceof CommandError && e.code !== undefined)) {
      // The hub says little of a command refused before its handler (a viewer's): say what it means here.
      const why = e.code === 'forbidden' ? 'only an owner phone may share recorded history (or this phone was removed)' : e.message;
      console.error(`vigil-phone share-history: refused (${e.code}): ${why}`);
      return 1;
    }
    throw e;
  }
}
