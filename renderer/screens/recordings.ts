// Recordings: what each camera records (mode, keep days), what that takes on disk, and all of it
// against the hub's quota and the disk's free space. The hub cannot play any of it back: recordings
// are sealed to the phones (PROTOCOL §15). Only where the owner turns on playing them on this
// computer (the desktop app with an OS keychain, THREAT-MODEL T13) does this screen play them
// (playback.ts); elsewhere it says why not.
import type { RecordingInfo, RecordingMode, RecordingStorage } from '../bridge.ts';
import { clear, h } from '../dom.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { desktopSection } from './playback.ts';

const MODES: readonly [RecordingMode, string][] = [['continuous', 'Continuous'], ['events', 'Events only'], ['off', 'Off']];
const MAX_KEEP_DAYS = 3650;

/** 1.5 GiB, 340 MiB, 12 KiB: binary units, as --storage-max-gb counts them. */
export function bytesText(n: number): string {
  if (!(n > 0)) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log2(n) / 10));
  const v = n / 1024 ** i;
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** A recording time (Unix ms), or a dash when there is none. */
function at(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function storageText(s: RecordingStorage): string {
  const limit = s.quota === null ? 'no quota set (vigil hub --storage-max-gb N sets one)' : `of a ${bytesText(s.quota)} quota`;
  return `Recordings take ${bytesText(s.used)} ${limit}. The disk has ${bytesText(s.free)} free of ${bytesText(s.total)}; the hub keeps at least ${bytesText(s.floor)} free, deleting the oldest recordings first.`;
}

export const recordingsScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const used = h('meter', { id: 'storage-meter', min: 0, max: 1, value: 0, 'aria-label': 'Recordings against the quota' });
  const summary = h('p', { id: 'storage-summary' }, 'Reading…');
  const body = h('tbody');
  const table = h('table', { id: 'recordings-table' },
    h('caption', { class: 'sr-only' }, 'Recordings per camera'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Camera'), h('th', { scope: 'col' }, 'On disk'), h('th', { scope: 'col' }, 'Oldest'), h('th', { scope: 'col' }, 'Newest'),
      h('th', { scope: 'col' }, 'Records'), h('th', { scope: 'col' }, 'Keep (days)'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    body);
  const empty = h('div', { class: 'empty', hidden: true }, h('p', {}, 'No camera yet: add one, then choose what it records.'), h('a', { class: 'button primary', href: '#/add' }, 'Add camera'));
  const desktop = desktopSection(ctx);
  const el = h('section', {}, h('h1', {}, 'Recordings'),
    h('p', { class: 'hint' }, 'Recordings are sealed to your phones: this hub writes them but cannot play them back. Watch and export them from a phone (or on this computer, where the desktop app can keep their keys: below).'),
    err, h('div', { class: 'storage' }, summary, used), empty, table, desktop.el);
  /** Cameras whose row has unsaved changes: the timer does not redraw the table under them. */
  const editing = new Set<string>();

  function rowFor(r: RecordingInfo): HTMLElement {
    const label = (what: string) => `${what} for ${r.name}`;
    const mode = h('select', { 'aria-label': label('What to record'), 'data-field': 'mode' },
      ...MODES.map(([value, text]) => h('option', { value, selected: value === r.mode }, text)));
    const keep = h('input', { type: 'number', min: 1, max: MAX_KEEP_DAYS, step: 1, value: r.keepDays, inputmode: 'numeric', 'aria-label': label('Days to keep'), 'data-field': 'keep', class: 'narrow' });
    const save = h('button', { type: 'button', disabled: true }, 'Save');
    save.setAttribute('aria-label', `Save recording settings for ${r.name}`);
    const changed = () => {
      const dirty = mode.value !== r.mode || keep.value !== String(r.keepDays);
      save.disabled = !dirty;
      if (dirty) editing.add(r.cameraId);
      else editing.delete(r.cameraId);
    };
    mode.addEventListener('change', changed);
    keep.addEventListener('input', changed);
    save.addEventListener('click', () => {
      void (async () => {
        const days = Number(keep.value);
        if (!(Number.isInteger(days) && days >= 1 && days <= MAX_KEEP_DAYS)) {
          unwrap({ ok: false, error: `Keep days must be a whole number from 1 to ${MAX_KEEP_DAYS}.` }, err);
          keep.focus();
          return;
        }
        save.disabled = true;
        const done = unwrap(await ctx.bridge.setRecording(r.cameraId, mode.value as RecordingMode, days), err);
        editing.delete(r.cameraId);
        if (done) ctx.announce(`${r.name} now records ${MODES.find(([m]) => m === done.mode)?.[1].toLowerCase()}, kept ${done.keepDays} days`);
        await refresh();
      })();
    });
    const state = r.recording ? h('span', { class: 'pill good' }, 'recording') : null;
    return h('tr', { 'data-camera-id': r.cameraId, 'data-mode': r.mode },
      h('th', { scope: 'row' }, r.name, ' ', state, r.note ? h('div', { class: 'hint' }, r.note) : null),
      h('td', { 'data-field': 'bytes', 'data-bytes': r.bytes }, bytesText(r.bytes), h('div', { class: 'hint' }, `${r.segments} segment${r.segments === 1 ? '' : 's'}`)),
      h('td', {}, at(r.oldest)), h('td', {}, at(r.newest)),
      h('td', {}, mode), h('td', {}, keep), h('td', { class: 'actions' }, save));
  }

  async function refresh(): Promise<void> {
    const [list, storage] = await Promise.all([ctx.bridge.recordings(), ctx.bridge.recordingStorage()]);
    const s = unwrap(storage, err);
    if (s !== undefined) {
      summary.textContent = storageText(s);
      // Against the quota, or else against what the disk leaves above its floor.
      const room = s.quota ?? Math.max(1, s.used + s.free - s.floor);
      used.value = Math.min(1, s.used / room);
      used.setAttribute('aria-valuetext', `${Math.round(100 * used.value)}% of ${s.quota === null ? 'the free disk' : 'the quota'} used`);
    }
    if (!list.ok) {
      unwrap(list, err);
      return;
    }
    const rows = list.value;
    desktop.cameras(rows);
    clear(body);
    for (const r of rows) body.append(rowFor(r));
    table.hidden = rows.length === 0;
    empty.hidden = rows.length > 0;
  }

  void refresh();
  // Sizes grow while cameras record; a row being edited is not redrawn under the user's hands.
  const timer = setInterval(() => {
    if (editing.size === 0) void refresh();
  }, 5000);
  return {
    el,
    dispose: () => {
      clearInterval(timer);
      desktop.dispose();
    },
  };
};
