// `vigil-phone roster` and `vigil-phone alerts`: the hub's roster log as this phone checked it
// (phone/core/roster.ts). Both fetch what the log gained first; a log that does not extend the one
// this phone kept is refused and said so, never shown as if it were fine.
import type { HubLink } from './core/hub-link.ts';
import { describeAlert, describeScope, describeSplit } from './core/roster.ts';
import { toHex } from '../crypto/bytes.ts';

export { describeAlert };

/** Camera names by id, as the hub lists them to this phone (a guest: its own cameras only); ids where it does not. */
async function cameraNames(link: HubLink): Promise<(id: string) => string | undefined> {
  try {
    const names = new Map((await link.listCameras()).map((c) => [c.id, c.name]));
    return (id) => names.get(id);
  } catch {
    return () => undefined;
  }
}

export async function printRoster(link: HubLink, json: boolean): Promise<number> {
  await link.ready();
  await link.syncRoster();
  const check = link.rosterLog;
  const refused = link.rosterCounters.rosterForked > 0;
  const state = check.saved;
  const unseen = state.alerts.filter((a) => !a.acknowledged);
  const me = toHex(link.deviceId);
  const mine = state.members.find((m) => m.id === me);
  if (json) {
    console.log(JSON.stringify({ safetyCode: check.safetyCode, length: state.length, members: state.members, ...(mine ? { me: mine } : {}), unseen, refused: link.rosterCounters }));
    return refused ? 1 : 0;
  }
  const nameOf = await cameraNames(link);
  for (const m of state.members) console.log(`${m.id}\t${m.name}\t${m.role}${m.scope ? `\t${describeScope(m.scope, nameOf)}` : ''}`);
  // What this phone itself may see, and until when (a guest's own app says the same).
  if (mine?.scope) console.log(`this phone: ${mine.role}, ${describeScope(mine.scope, nameOf)}`);
  console.log(`safety code: ${check.safetyCode} (${state.length} entries)`);
  for (const a of unseen) console.log(`unseen: ${describeAlert(a)}`);
  // Cross-checks with other owner phones (PROTOCOL §16.4): none for long means they are dropped.
  for (const [id, c] of Object.entries(state.crossChecked ?? {})) {
    const name = state.members.find((m) => m.id === id)?.name ?? id.slice(0, 8);
    console.log(`last cross-checked with "${name}" at ${new Date(c.checkedAt).toISOString()}: ${c.agrees ? `same log (${c.length} entries)` : 'LOG SPLIT'}`);
  }
  if (refused) console.error('the hub\'s roster log was refused: it does not extend the log this phone checked before (shown: the log as this phone last checked it)');
  return refused ? 1 : 0;
}

export async function printAlerts(link: HubLink, json: boolean, ack: boolean): Promise<number> {
  await link.ready();
  await link.syncRoster();
  const alerts = link.rosterLog.saved.alerts.filter((a) => !a.acknowledged);
  const splits = (link.rosterLog.saved.splits ?? []).filter((a) => !a.acknowledged);
  const nameOf = json || !alerts.some((a) => a.scope) ? () => undefined : await cameraNames(link);
  for (const a of splits) console.log(json ? JSON.stringify(a) : describeSplit(a));
  for (const a of alerts) console.log(json ? JSON.stringify(a) : describeAlert(a, nameOf));
  if (!json && alerts.length === 0 && splits.length === 0) console.log('no roster changes you have not seen');
  return ack ? link.rosterLog.acknowledge(Math.max(-1, ...alerts.map((a) => a.seq))) + link.rosterLog.acknowledgeSplits() : 0;
}
