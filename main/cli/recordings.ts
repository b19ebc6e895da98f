// `vigil record` and `vigil recordings`: a camera's recording mode and keep days, and what each
// camera's recordings take on disk. Through the running hub's local API when there is one (it applies
// a change at once), else on the store directly.
import type { RecordingInfo, RecordingMode } from '../../contract/hub-ui.ts';
import { parseCommand, usageOf } from '../../relay/cli-options.ts';
import { RecordingAdmin } from '../recording/admin.ts';
import { openStore } from '../store/db.ts';
import { MAX_KEEP_DAYS, RECORDING_MODES, RecordingIndex } from '../store/recordings.ts';
import { CliError, runningHub } from './api-client.ts';
import { RECORD, RECORDINGS } from './commands.ts';

type Out = { log(line: string): void; error(line: string): void };

function offline<T>(dir: string, f: (admin: RecordingAdmin) => T): T {
  const store = openStore(dir);
  try {
    return f(new RecordingAdmin({ store, index: new RecordingIndex(store) }));
  } finally {
    store.close();
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export async function cmdRecord(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(RECORD, argv);
  const usage = usageOf(RECORD);
  const dir = values.data as string;
  const camera = values.camera as string;
  const mode = RECORDING_MODES.find((m) => m === values.mode);
  if (mode === undefined) throw new CliError(`--mode must be continuous, events or off\n${usage}`);
  let keepDays: number | undefined;
  if (typeof values['keep-days'] === 'string') {
    keepDays = Number(values['keep-days']);
    if (!/^\d+$/.test(values['keep-days']) || keepDays < 1 || keepDays > MAX_KEEP_DAYS) throw new CliError(`--keep-days wants a whole number of days 1..${MAX_KEEP_DAYS}\n${usage}`);
  }
  const api = await runningHub(dir);
  const info: RecordingInfo = api
    ? await (keepDays === undefined ? api.call('setRecording', camera, mode) : api.call('setRecording', camera, mode, keepDays))
    : offline(dir, (admin) => {
      try {
        return admin.set(camera, mode as RecordingMode, keepDays);
      } catch (e) {
        throw new CliError(e instanceof Error ? e.message.replace(/^[^:]*: /, '') : String(e));
      }
    });
  out.log(`camera "${info.name}": ${info.mode}, recordings kept ${info.keepDays} day${info.keepDays === 1 ? '' : 's'}` +
    `${api ? '' : ' (applies when the hub starts)'}`);
  if (info.note !== undefined) out.log(info.note);
}

export async function cmdRecordings(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(RECORDINGS, argv);
  const dir = values.data as string;
  const api = await runningHub(dir);
  const list = api ? await api.call('recordings') : offline(dir, (admin) => admin.list());
  for (const r of list) {
    if (values.json === true) {
      out.log(JSON.stringify({
        camera: r.name, id: r.cameraId, mode: r.mode, keepDays: r.keepDays, bytes: r.bytes, segments: r.segments,
        oldest: iso(r.oldest), newest: iso(r.newest), recording: r.recording, ...(r.note !== undefined ? { note: r.note } : {}),
      }));
    } else {
      const span = r.oldest === null ? 'no recordings' : `${iso(r.oldest)} .. ${iso(r.newest)}`;
      out.log(`${r.name}\t${r.mode}\t${r.keepDays} d\t${size(r.bytes)}\t${r.segments} segments\t${span}${r.recording ? '\trecording' : ''}${r.note ? `\t(${r.note})` : ''}`);
    }
  }
}
