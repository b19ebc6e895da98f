// `vigil-phone roster` and `vigil-phone alerts`: the hub's roster log as this phone checked it
// (phone/core/roster.ts). Both fetch what the log gained first; a log that does not extend the one
// this phone kept is refused and said so, never shown as if it were fine.
import type { HubLink } from './core/hub-link.ts';
import { describeAlert, describeScope, describeSplit } from './core/roster.ts';
import { toHex } from '../crypto/bytes.ts';
import type { CrossCheckRunner } from './core/crosscheck-runner.ts';

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

/** How long `vigil-phone roster` waits for the other owner phones it reached to answer its cross-check. */
const CROSSCHECK_WAIT_MS = 2000;

export async function printRoster(link: HubLink, json: boolean, crossCheck?: CrossCheckRunner): Promise<number> {
  await link.ready();
  await link.syncRoster();
  // An owner phone cross-checks first (PROTOCOL §16.4): the other owners online answer within a
  // relay round trip, and what they said is printed below with the older cross-checks.
  const round = await crossCheck?.round(CROSSCHECK_WAIT_MS);
  const check = link.rosterLog;
  const refused = link.rosterCounters.rosterForked > 0;
  const state = check.saved;
  const unseen = state.alerts.filter((a) => !a.acknowledged);
  const me = toHex(link.deviceId);
  const mine = state.members.find((m) => m.id === me);
  if (json) {
    console.log(JSON.stringify({
      safetyCode: check.safetyCode, length: state.length, members: state.members, ...(mine ? { me: mine } : {}), unseen, refused: link.rosterCounters,
      crossChecked: state.crossChecked ?? {}, splits: (state.splits ?? []).filter((a) => !a.acknowledged),
      ...(round !== undefined ? { crossCheckRound: { reached: round.sent, offline: round.offline, answered: round.answered } } : {}),
    }));
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
  for (const a of (state.splits ?? []).filter((x) => !x.acknowledged)) console.log(describeSplit(a));
  if (round !== undefined && round.others > 0) {
    const silent = round.sent.length - round.answered.length;
    console.log(`cross-check now: ${round.sent.length} of ${round.others} other owner phone${round.others === 1 ? '' : 's'} reached, ${round.answered.length} answered${silent > 0 ? `, ${silent} not within ${CROSSCHECK_WAIT_MS / 1000} s` : ''}${round.offline.length > 0 ? `; ${round.offline.length} offline (they check with this phone when both are online)` : ''}`);
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
