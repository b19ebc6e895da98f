// Which cameras, and when, a guest or a viewer may see (PROTOCOL §16.3): the form the pairing screen
// shows before an invite is made and the Phones screen shows to change a paired phone's scope, and
// the one line both screens (and the audit log) say a scope in. The hub checks it all again.
import type { CameraInfo, Role, ScopeInfo } from './bridge.ts';
import { h } from './dom.ts';

/** What the form holds: camera ids (none: every camera) and a window in Unix ms (0: none). */
export interface ChosenScope {
  cameras: string[];
  from: number;
  until: number;
}

export interface ScopeForm {
  readonly el: HTMLElement;
  /** Guests always choose cameras; an owner sees everything, so the form hides. */
  setRole(role: Role): void;
  /** The scope chosen, or what is wrong with it (for people). */
  read(now?: number): ChosenScope | string;
}

const HOUR_MS = 3600_000;

/** A `datetime-local` value (local time) for a Unix ms time. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function whenMs(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * "Back yard, Front door" (or "All cameras"): camera names where the hub lists them, else the id's
 * start, in name order (the roster log keeps a scope's cameras in id order).
 */
export function camerasText(scope: Pick<ScopeInfo, 'cameras'> | undefined, nameOf: (id: string) => string | undefined): string {
  if (scope === undefined) return 'All cameras';
  return scope.cameras.map((id) => nameOf(id) ?? `camera ${id.slice(0, 8)}`).sort((a, b) => a.localeCompare(b)).join(', ');
}

/** "from … until …", "until …", or "Any time". */
export function windowText(scope: Pick<ScopeInfo, 'from' | 'until'> | undefined): string {
  if (scope === undefined || (scope.from === 0 && scope.until === 0)) return 'Any time';
  return [scope.from !== 0 ? `from ${whenMs(scope.from)}` : '', scope.until !== 0 ? `until ${whenMs(scope.until)}` : ''].filter((s) => s !== '').join(' ');
}

/**
 * The form, its element ids starting with `prefix` (one form per page has its own). `initial`: the
 * phone's scope now (the Phones screen), so an unchanged form changes nothing.
 */
export function scopeForm(prefix: string, cameras: readonly Pick<CameraInfo, 'id' | 'name'>[], initial?: ScopeInfo): ScopeForm {
  const id = (s: string) => `${prefix}-${s}`;
  const all = h('input', { type: 'radio', name: id('cameras'), id: id('cams-all'), value: 'all', checked: initial === undefined });
  const some = h('input', { type: 'radio', name: id('cameras'), id: id('cams-some'), value: 'some', checked: initial !== undefined });
  const boxes = cameras.map((c) => h('input', { type: 'checkbox', id: id(`cam-${c.id}`), value: c.id, 'data-camera-name': c.name, checked: initial?.cameras.includes(c.id) === true }));
  const list = h('ul', { class: 'list camera-choice', id: id('camera-list') },
    ...cameras.map((c, i) => h('li', {}, boxes[i]!, ' ', h('label', { for: id(`cam-${c.id}`) }, c.name))));
  if (cameras.length === 0) list.append(h('li', { class: 'hint' }, 'No camera on this hub yet.'));
  const allRow = h('div', {}, all, ' ', h('label', { for: id('cams-all') }, 'All cameras (and recordings)'));
  const camerasBox = h('fieldset', { class: 'scope-cameras' }, h('legend', {}, 'Cameras'), allRow,
    h('div', {}, some, ' ', h('label', { for: id('cams-some') }, 'Only these, live video only:')), list);

  const now0 = Date.now();
  const fromMode = h('select', { id: id('from-mode') }, h('option', { value: 'now' }, 'Now'), h('option', { value: 'at' }, 'At a time'));
  const fromAt = h('input', { type: 'datetime-local', id: id('from-at'), 'aria-label': 'Starts at' });
  const untilMode = h('select', { id: id('until-mode') },
    h('option', { value: 'none' }, 'No end'), h('option', { value: 'for' }, 'For some hours'), h('option', { value: 'at' }, 'Until a date and time'));
  const hours = h('input', { type: 'number', id: id('for-hours'), min: 1, max: 24 * 366, step: 1, value: 2, inputmode: 'numeric', class: 'narrow', 'aria-label': 'Hours' });
  const untilAt = h('input', { type: 'datetime-local', id: id('until-at'), 'aria-label': 'Ends at' });
  if (initial !== undefined && initial.from > now0) {
    fromMode.value = 'at';
    fromAt.value = localInput(initial.from);
  }
  if (initial !== undefined && initial.until !== 0) {
    untilMode.value = 'at';
    untilAt.value = localInput(initial.until);
  }
  const windowBox = h('fieldset', { class: 'scope-window' }, h('legend', {}, 'When'),
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: id('from-mode') }, 'Starts'), fromMode, fromAt),
      h('div', { class: 'field' }, h('label', { for: id('until-mode') }, 'Ends'), untilMode, hours, untilAt)),
    h('p', { class: 'hint' }, 'At the end the hub removes the phone and starts new keys without it.'));
  const el = h('div', { class: 'scope-form', id: id('scope') }, camerasBox, windowBox);

  let role: Role = 'viewer';
  function sync(): void {
    el.hidden = role === 'owner';
    // A guest is always limited to some cameras.
    allRow.hidden = role === 'guest';
    if (role === 'guest') some.checked = true;
    list.hidden = !some.checked;
    // A window goes with a list of cameras.
    windowBox.hidden = !some.checked;
    fromAt.hidden = fromMode.value !== 'at';
    hours.hidden = untilMode.value !== 'for';
    untilAt.hidden = untilMode.value !== 'at';
  }
  for (const c of [all, some, fromMode, untilMode]) c.addEventListener('change', sync);
  sync();

  return {
    el,
    setRole(r: Role): void {
      if (r === 'guest' && role !== 'guest' && initial === undefined) untilMode.value = 'for';
      role = r;
      sync();
    },
    read(now = Date.now()): ChosenScope | string {
      if (role === 'owner' || all.checked) return { cameras: [], from: 0, until: 0 };
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (chosen.length === 0) return role === 'guest' ? 'Choose the cameras the guest may see.' : 'Choose at least one camera, or all cameras.';
      // The inputs hold minutes: a time left as it was shown keeps its exact value.
      const at = (input: HTMLInputElement, was: number | undefined) => (was !== undefined && was !== 0 && input.value === localInput(was) ? was : new Date(input.value).getTime());
      let from = 0;
      if (fromMode.value === 'at') {
        from = at(fromAt, initial?.from);
        if (!Number.isFinite(from)) return 'Pick the date and time it starts.';
      } else if (initial !== undefined && initial.from !== 0 && initial.from <= now) from = initial.from; // already started: kept
      let until = 0;
      if (untilMode.value === 'for') {
        const n = Number(hours.value);
        if (!(Number.isInteger(n) && n >= 1 && n <= 24 * 366)) return 'The number of hours is a whole number from 1.';
        until = Math.max(now, from) + n * HOUR_MS;
      } else if (untilMode.value === 'at') {
        until = at(untilAt, initial?.until);
        if (!Number.isFinite(until)) return 'Pick the date and time it ends.';
        if (until <= now) return 'The end is in the past.';
        if (until <= from) return 'The end must come after the start.';
      }
      return { cameras: chosen, from, until };
    },
  };
}
