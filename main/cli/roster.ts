// `vigil roster`: the roster log as the hub holds it, checked entry by entry as a phone checks it
// (crypto/roster-log.ts), with the safety code owners compare with their phones'. Reads the store
// directly (SQLite allows it while the hub runs), so it works with the hub stopped too.
import { importHubIdentity } from '../../crypto/identity.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { parseCommand, usageOf } from '../../relay/cli-options.ts';
import { rosterReport } from '../phones/roster-log.ts';
import { openStore } from '../store/db.ts';
import { CliError } from './api-client.ts';
import { ROSTER } from './commands.ts';

type Out = { log(line: string): void; error(line: string): void };

/** A guest's or scoped viewer's limits for people: `cameras "Front door" until 2026-12-03T10:00:00.000Z`. */
export function describeScope(scope: { readonly cameras: readonly string[]; readonly from: number; readonly until: number }, nameOf: (id: string) => string | undefined = () => undefined): string {
  const cameras = scope.cameras.map((id) => {
    const name = nameOf(id);
    return name === undefined ? id.slice(0, 8) : `"${name}"`;
  });
  const from = scope.from !== 0 ? ` from ${new Date(scope.from).toISOString()}` : '';
  const until = scope.until !== 0 ? ` until ${new Date(scope.until).toISOString()}` : '';
  return `cameras ${cameras.join(', ')}${from}${until}, live only`;
}

export async function cmdRoster(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(ROSTER, argv);
  if (typeof values.data !== 'string') throw new CliError(`roster needs --data DIR\n${usageOf(ROSTER)}`);
  await cryptoReady();
  const store = openStore(values.data);
  try {
    const identity = store.getOrCreateHubIdentity(() => {
      throw new CliError(`${values.data} holds no hub yet (start it once with vigil hub --data ${values.data})`);
    });
    const report = rosterReport(importHubIdentity(identity), store);
    const nameOf = (id: string): string | undefined => store.getCamera(id)?.name;
    if (values.json === true) {
      for (const e of report.entries) {
        const scope = e.scope && { ...e.scope, names: e.scope.cameras.map((id) => nameOf(id) ?? null) };
        out.log(JSON.stringify({ ...e, at: new Date(e.at).toISOString(), ...(scope ? { scope } : {}) }));
      }
      out.log(JSON.stringify({ safetyCode: report.safetyCode, length: report.length }));
      return;
    }
    for (const e of report.entries) {
      const shared = e.history ? ` epochs ${e.history.firstEpoch}..${e.history.lastEpoch} (${e.history.epochs})` : '';
      const scope = e.scope ? `\t${describeScope(e.scope, nameOf)}` : '';
      out.log(`${e.seq}\t${new Date(e.at).toISOString()}\t${e.change}${shared}\t"${e.name}" (${e.role}, ${e.deviceId.slice(0, 8)})\tby ${e.by}${scope}`);
    }
    out.log(`safety code: ${report.safetyCode}`);
  } finally {
    store.close();
  }
}
