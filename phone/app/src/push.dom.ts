// "Notify me" (PROTOCOL §17.3): the page subscribes this browser to Web Push with the hub's VAPID key
// as applicationServerKey and hands the subscription to the hub with the signed `push-subscribe`
// command, with what the user wants pushed (away only, quiet hours). The pushes themselves are the
// service worker's (sw.sw.ts): it shows only what this phone's hub signed and sealed to this phone.
import { fromBase64url } from '../../../crypto/bytes.ts';
import type { PushPrefs } from '../../../crypto/push-prefs.ts';
import type { HubLink } from '../../core/hub-link.ts';

function el<T extends HTMLElement>(id: string): T | undefined {
  return (document.getElementById(id) as T | null) ?? undefined;
}

function minutes(value: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(value);
  return m === null ? undefined : Number(m[1]) * 60 + Number(m[2]);
}

/** What the settings on screen ask for. */
function prefsOnScreen(): PushPrefs {
  const from = minutes(el<HTMLInputElement>('notify-quiet-from')?.value ?? '');
  const to = minutes(el<HTMLInputElement>('notify-quiet-to')?.value ?? '');
  return {
    cooldownSeconds: 60,
    awayOnly: el<HTMLInputElement>('notify-away')?.checked === true,
    // The hub compares in the phone's time: it is told the offset now in force.
    ...(from !== undefined && to !== undefined && from !== to ? { quiet: { from, to, utcOffset: -new Date().getTimezoneOffset() } } : {}),
  };
}

function say(text: string): void {
  const s = el('notify-status');
  if (s !== undefined) s.textContent = text;
}

async function subscribe(link: HubLink): Promise<void> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    throw new Error('this browser cannot show alerts while Vigil is closed (on iPhone: add Vigil to the Home Screen first, iOS 16.4 or later)');
  }
  if ((await Notification.requestPermission()) !== 'granted') throw new Error('alerts are not allowed for this app in the browser\'s settings');
  const { vapidKey } = await link.command('push-settings', {});
  const key = new Uint8Array(fromBase64url(vapidKey));
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  const current = sub?.options.applicationServerKey;
  // A subscription made for another key (another hub, or before this hub's key) is replaced.
  if (sub !== null && (current === null || current === undefined || new Uint8Array(current).join() !== key.join())) {
    await sub.unsubscribe();
    sub = null;
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const json = sub.toJSON();
  if (json.endpoint === undefined || json.keys?.p256dh === undefined || json.keys.auth === undefined) throw new Error('the browser gave no push subscription');
  await link.command('push-subscribe', { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth, prefs: prefsOnScreen() });
}

async function unsubscribe(link: HubLink): Promise<void> {
  await link.command('push-unsubscribe');
  const sub = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
  await sub?.unsubscribe();
}

/** Wires #notify (the toggle) and its settings; `link()` is the live link to the hub, if any. */
export function wirePush(link: () => HubLink | undefined): void {
  const toggle = el<HTMLInputElement>('notify');
  if (toggle === undefined) return;
  const apply = async (): Promise<void> => {
    const l = link();
    if (l === undefined) return say('Not connected to the hub.');
    try {
      if (toggle.checked) {
        await subscribe(l);
        say('Alerts on: the hub pushes events to this phone, sealed so that only it can read them.');
      } else {
        await unsubscribe(l);
        say('Alerts off.');
      }
    } catch (e) {
      toggle.checked = false;
      say(`Cannot turn alerts on: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  toggle.addEventListener('change', () => void apply());
  for (const id of ['notify-away', 'notify-quiet-from', 'notify-quiet-to']) {
    el(id)?.addEventListener('change', () => {
      const l = link();
      if (toggle.checked && l !== undefined) void l.command('push-settings', { prefs: prefsOnScreen() }).then(() => say('Alert settings saved.'), (e: unknown) => say(`Not saved: ${String(e)}`));
    });
  }
}
