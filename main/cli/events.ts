// `vigil events`: the events the hub stored, from its store (the running hub shares the database):
// camera, kind and times, which the hub keeps in clear; the rest is sealed to the phones.
import { parseCommand } from '../../relay/cli-options.ts';
import { openStore } from '../store/db.ts';
import { EventIndex } from '../store/events.ts';
import { CliError } from './api-client.ts';
import { EVENTS } from './commands.ts';

type Out = { log(line: string): void; error(line: string): void };

/** Rows read per query (a loop bound per page, not a limit on what is listed). */
const PAGE = 1000;
/** At most this many events are printed (newest dropped); narrower with --camera. */
const MAX_LISTED = 1_000_000;

export async function cmdEvents(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(EVENTS, argv);
  const store = openStore(values.data as string);
  try {
    const names = new Map(store.listCameras().map((c) => [c.id, c.name]));
    let cameraId: string | undefined;
    if (typeof values.camera === 'string') {
      const camera = store.getCamera(values.camera);
      if (camera === undefined) throw new CliError(`no camera "${values.camera}"`);
      cameraId = camera.id;
    }
    const index = new EventIndex(store);
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    let after = 0;
    let listed = 0;
    while (listed < MAX_LISTED) {
      const rows = index.list({ ...(cameraId !== undefined ? { cameraId } : {}), afterId: after, limit: PAGE });
      for (const r of rows) {
        const name = names.get(r.cameraId) ?? r.cameraId;
        if (values.json === true) {
          out.log(JSON.stringify({ id: r.id, camera: name, cameraId: r.cameraId, kind: r.kind, start: iso(r.startMs), end: iso(r.endMs), sealed: r.epoch !== null }));
        } else {
          out.log(`${r.id}\t${name}\t${r.kind}\t${iso(r.startMs)}\t${iso(r.endMs) ?? 'ongoing'}${r.epoch === null ? '\t(not sealed: no recording epoch then)' : ''}`);
        }
      }
      listed += rows.length;
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.id;
    }
    if (listed === 0 && values.json !== true) out.log('no events');
  } finally {
    store.close();
  }
}
