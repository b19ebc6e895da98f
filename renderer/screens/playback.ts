// Recordings on this computer (issue 16, THREAT-MODEL T13), part of the Recordings screen: the
// owner's switch, with what it gives up in plain words, where the hub can keep recording keys (the
// desktop app with an OS keychain), else one line why not; and, once on, a camera's day with its
// recorded ranges and a from/seconds form that plays the range in a <video>. The hub opens the
// segments in its own process and hands the MP4 over once, from memory (bridge.recordingClip).
import type { DesktopRecordings, RecordingClip, RecordingInfo } from '../bridge.ts';
import { clear, h } from '../dom.ts';
import { errorBox, unwrap, type Ctx } from '../screen.ts';

/** The longest range one play opens (the hub's MAX_PLAY_SECONDS). */
const MAX_SECONDS = 3600;
/** Ranges listed for a day; the rest are reached with the form. */
const MAX_RANGES_SHOWN = 50;

/** What turning it on gives up (THREAT-MODEL T13), for the owner deciding. */
export const GIVES_UP = 'This computer then keeps a key to every recording made while this is on, locked by your account\'s keychain. '
  + 'Anyone who can use this computer as you (someone at it while it is unlocked, or a program running in your session) can watch those recordings; '
  + 'a stolen disk alone cannot. Every phone sees this computer added. Turning it off stops new recordings reaching it, '
  + 'but a copy of its key taken while it was on still opens what was recorded then.';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** A local day (YYYY-MM-DD) and time (HH:MM:SS) of a Unix ms time, as the date and time inputs take them. */
export function localParts(ms: number): { day: string; time: string } {
  const d = new Date(ms);
  return { day: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, time: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` };
}

/** The Unix ms of a local day and time, or NaN. */
export function localTime(day: string, time: string): number {
  const t = /^\d{2}:\d{2}(:\d{2})?$/.test(time) ? (time.length === 5 ? `${time}:00` : time) : '';
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && t ? new Date(`${day}T${t}`).getTime() : Number.NaN;
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export interface DesktopSection {
  readonly el: HTMLElement;
  /** The cameras, as the Recordings screen last read them. */
  cameras(rows: readonly RecordingInfo[]): void;
  dispose(): void;
}

export function desktopSection(ctx: Ctx): DesktopSection {
  const err = errorBox();
  const body = h('div', {}, h('p', { class: 'hint' }, 'Reading…'));
  const el = h('section', { id: 'desktop-recordings', 'aria-labelledby': 'desktop-heading' },
    h('h2', { id: 'desktop-heading' }, 'On this computer'), err, body);
  let rows: readonly RecordingInfo[] = [];
  let player: ReturnType<typeof playbackPanel> | undefined;
  let disposed = false;

  function show(state: DesktopRecordings): void {
    clear(body);
    if (!state.available) {
      player?.dispose();
      player = undefined;
      body.append(h('p', { id: 'desktop-note', class: 'hint' }, `Recordings do not play on this computer: ${state.why ?? 'it has no OS keychain'}`));
      return;
    }
    const toggle = h('input', { type: 'checkbox', role: 'switch', id: 'desktop-switch', 'aria-describedby': 'desktop-gives-up', checked: state.enabled });
    body.append(
      h('label', { class: 'switch', for: 'desktop-switch' }, toggle, ' Play recordings on this computer'),
      h('p', { id: 'desktop-gives-up', class: 'hint' }, GIVES_UP),
    );
    toggle.addEventListener('change', () => {
      void (async () => {
        toggle.disabled = true;
        const r = unwrap(await ctx.bridge.setDesktopRecordings(toggle.checked), err);
        if (disposed) return;
        if (r === undefined) {
          toggle.checked = !toggle.checked;
          toggle.disabled = false;
          return;
        }
        ctx.announce(r.enabled ? 'Recordings now play on this computer' : 'Recordings no longer play on this computer');
        show(r);
        document.getElementById('desktop-switch')?.focus();
      })();
    });
    if (state.enabled) {
      player ??= playbackPanel(ctx);
      player.cameras(rows);
      body.append(player.el);
    } else {
      player?.dispose();
      player = undefined;
    }
  }

  void ctx.bridge.desktopRecordings().then((r) => {
    const state = unwrap(r, err);
    if (state !== undefined && !disposed) show(state);
  });

  return {
    el,
    cameras(list) {
      rows = list;
      player?.cameras(list);
    },
    dispose() {
      disposed = true;
      player?.dispose();
    },
  };
}

/** A camera's day with its recorded ranges, a from/seconds form, and the <video> that plays the range. */
function playbackPanel(ctx: Ctx): { el: HTMLElement; cameras(rows: readonly RecordingInfo[]): void; dispose(): void } {
  const err = errorBox();
  const camera = h('select', { id: 'play-camera', required: true });
  const today = localParts(Date.now());
  const day = h('input', { type: 'date', id: 'play-day', value: today.day, required: true });
  const time = h('input', { type: 'time', id: 'play-time', step: 1, value: today.time, required: true });
  const seconds = h('input', { type: 'number', id: 'play-seconds', min: 1, max: MAX_SECONDS, step: 1, value: 60, inputmode: 'numeric', required: true, class: 'narrow' });
  const play = h('button', { type: 'submit', class: 'primary', id: 'play-button' }, 'Play');
  const rangesNote = h('p', { class: 'hint', id: 'play-ranges-note' });
  const ranges = h('ul', { class: 'list', id: 'play-ranges', 'aria-labelledby': 'play-ranges-note' });
  const status = h('p', { id: 'play-status', role: 'status' });
  const lines = h('ul', { class: 'list', id: 'play-lines', 'aria-label': 'What did not play in full', hidden: true });
  const video = h('video', { id: 'play-video', controls: true, playsinline: true, 'aria-label': 'Recording' });
  const form = h('form', { class: 'form', id: 'playback-form', 'aria-labelledby': 'playback-heading' },
    h('h3', { id: 'playback-heading' }, 'Play a recording'),
    h('div', { class: 'field-row' },
      h('label', { class: 'field', for: 'play-camera' }, 'Camera', camera),
      h('label', { class: 'field', for: 'play-day' }, 'Day', day)),
    rangesNote, ranges,
    h('div', { class: 'field-row' },
      h('label', { class: 'field', for: 'play-time' }, 'From', time),
      h('label', { class: 'field', for: 'play-seconds' }, 'Seconds', seconds)),
    h('div', {}, play));
  const el = h('div', { id: 'playback' }, form, err, status, lines, h('div', { class: 'tile-video large' }, video));
  let url: string | undefined;
  let cameraIds = '';
  let listing = 0;

  async function listDay(): Promise<void> {
    const from = localTime(day.value, '00:00:00');
    if (camera.value === '' || Number.isNaN(from)) return;
    const to = localTime(day.value, '23:59:59') + 1000;
    const asked = ++listing;
    const r = unwrap(await ctx.bridge.recordingRanges(camera.value, from, to), err);
    if (r === undefined || asked !== listing) return;
    clear(ranges);
    const name = camera.selectedOptions[0]?.textContent ?? '';
    rangesNote.textContent = r.ranges.length === 0
      ? `Nothing of ${name} recorded that day.`
      : `${name} recorded that day${r.ranges.length > MAX_RANGES_SHOWN ? ` (the first ${MAX_RANGES_SHOWN} of ${r.ranges.length} shown; the form reaches the rest)` : ''}:`;
    for (const range of r.ranges.slice(0, MAX_RANGES_SHOWN)) {
      const length = Math.max(1, Math.min(MAX_SECONDS, Math.ceil((range.end - range.start) / 1000)));
      const b = h('button', { type: 'button', 'data-start': range.start }, `Play ${clock(range.start)} to ${clock(range.end)}`);
      b.addEventListener('click', () => {
        time.value = localParts(range.start).time;
        seconds.value = String(length);
        form.requestSubmit();
      });
      ranges.append(h('li', {}, b));
    }
  }

  function say(clip: RecordingClip, name: string): void {
    status.textContent = `Playing ${clip.segments} segment${clip.segments === 1 ? '' : 's'} of ${name}, ${clock(clip.start)} to ${clock(clip.end)} (${(clip.bytes / 1048576).toFixed(1)} MiB)`
      + (clip.partial + clip.left > 0 ? `; not all of it: ${clip.partial} in part, ${clip.left} left out.` : '.');
    clear(lines);
    for (const line of clip.lines) lines.append(h('li', {}, line));
    lines.hidden = clip.lines.length === 0;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      const from = localTime(day.value, time.value);
      const n = Number(seconds.value);
      if (Number.isNaN(from) || !(Number.isInteger(n) && n >= 1 && n <= MAX_SECONDS)) {
        unwrap({ ok: false, error: `Pick a day and a time, and from 1 to ${MAX_SECONDS} seconds.` }, err);
        return;
      }
      const name = camera.selectedOptions[0]?.textContent ?? '';
      play.disabled = true;
      status.textContent = `Opening ${name}'s recordings…`;
      try {
        const clip = unwrap(await ctx.bridge.playRecording(camera.value, from, n), err);
        if (clip === undefined) {
          status.textContent = '';
          return;
        }
        const bytes = unwrap(await ctx.bridge.recordingClip(clip.clip), err);
        if (bytes === undefined) {
          status.textContent = '';
          return;
        }
        if (url !== undefined) URL.revokeObjectURL(url);
        url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: clip.mime }));
        video.setAttribute('aria-label', `Recording of ${name} from ${clock(clip.start)}`);
        video.src = url;
        say(clip, name);
        // Started by the owner's click: autoplay policies allow it; if not, the controls do.
        await video.play().catch(() => undefined);
      } finally {
        play.disabled = false;
      }
    })();
  });
  camera.addEventListener('change', () => void listDay());
  day.addEventListener('change', () => void listDay());

  return {
    el,
    cameras(rows) {
      const ids = rows.map((r) => `${r.cameraId}:${r.name}`).join(',');
      if (ids === cameraIds) return;
      cameraIds = ids;
      const chosen = camera.value;
      clear(camera);
      for (const r of rows) camera.append(h('option', { value: r.cameraId, selected: r.cameraId === chosen }, r.name));
      void listDay();
    },
    dispose() {
      listing++;
      video.pause();
      video.removeAttribute('src');
      if (url !== undefined) URL.revokeObjectURL(url);
    },
  };
}
