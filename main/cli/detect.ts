// `vigil detect`: a camera's motion detection on or off, its sensitivity, masks and zones
// (PROTOCOL §17.1). Written to the store directly, from this process; a running hub sees the store
// change (SQLite's data_version, checked every second) and applies it within about a second, so no
// local API call is needed. Otherwise it applies when the hub starts.
import { parseCommand, usageOf } from '../../relay/cli-options.ts';
import type { Rect } from '../events/hub-events.ts';
import { parseRect, ZoneError } from '../events/zones.ts';
import { DetectionStore, type DetectionChange } from '../store/detection.ts';
import { openStore } from '../store/db.ts';
import { isStoreError } from '../store/errors.ts';
import { CliError, runningHub } from './api-client.ts';
import { DETECT } from './commands.ts';

type Out = { log(line: string): void; error(line: string): void };

function rects(values: unknown, what: string, usage: string): Rect[] | undefined {
  if (values === undefined) return undefined;
  const list = (Array.isArray(values) ? values : [values]) as string[];
  // `--mask none` clears the masks.
  if (list.length === 1 && list[0] === 'none') return [];
  try {
    return list.map((v) => parseRect(v, what));
  } catch (e) {
    throw new CliError(`${e instanceof ZoneError ? e.message : String(e)}\n${usage}`);
  }
}

function show(r: Rect): string {
  return `${r.x},${r.y},${r.w},${r.h}`;
}

export async function cmdDetect(argv: string[], out: Out): Promise<void> {
  const { values } = parseCommand(DETECT, argv);
  const usage = usageOf(DETECT);
  const dir = values.data as string;
  const camera = values.camera as string;
  const change: { -readonly [K in keyof DetectionChange]: DetectionChange[K] } = {};
  if (values.motion !== undefined) {
    if (values.motion !== 'on' && values.motion !== 'off') throw new CliError(`--motion must be on or off\n${usage}`);
    change.motion = values.motion === 'on';
  }
  if (typeof values.sensitivity === 'string') {
    if (!/^\d{1,2}$/.test(values.sensitivity) || Number(values.sensitivity) < 1 || Number(values.sensitivity) > 10) throw new CliError(`--sensitivity wants a whole number 1..10\n${usage}`);
    change.sensitivity = Number(values.sensitivity);
  }
  const masks = rects(values.mask, 'mask', usage);
  const zones = rects(values.zone, 'zone', usage);
  if (masks !== undefined) change.masks = masks;
  if (zones !== undefined) change.zones = zones;
  const store = openStore(dir);
  let settings;
  try {
    settings = new DetectionStore(store).set(camera, change);
  } catch (e) {
    if (isStoreError(e)) throw new CliError(e.message.replace(/^[^:]*: /, ''));
    throw e;
  } finally {
    store.close();
  }
  const name = values.camera as string;
  const running = (await runningHub(dir)) !== undefined;
  out.log(`camera "${name}": motion ${settings.motion ? 'on' : 'off'}, sensitivity ${settings.sensitivity}` +
    `${settings.masks.length > 0 ? `, masks ${settings.masks.map(show).join(' ')}` : ''}` +
    `${settings.zones.length > 0 ? `, zones ${settings.zones.map(show).join(' ')}` : ''}` +
    `${running ? ' (the running hub applies it within a second)' : ' (applies when the hub starts)'}`);
}
