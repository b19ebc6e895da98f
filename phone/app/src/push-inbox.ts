// What the service worker does with a push (PROTOCOL §17.3), as pure functions it and the tests
// share: open the Vigil push message inside it (sealed to this phone, signed by this phone's hub),
// refuse one seen before, and say what notification to show. Nothing is shown for a push that fails
// any check; each failure is counted, by kind (the counters live in IndexedDB, push-db.ts).
import { fromBase64url, toHex } from '../../../crypto/bytes.ts';
import { isCryptoError } from '../../../crypto/errors.ts';
import { openPushMessage, PUSH_TEXT_CHARS, type PushKind, type PushMessage } from '../../../crypto/push.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { kindLabel } from './events.ts';

export type PushRefusal = 'malformed' | 'tampered' | 'other-hub' | 'replayed' | 'no-profile';

export interface PushCounters {
  shown: number;
  malformed: number;
  tampered: number;
  'other-hub': number;
  replayed: number;
  'no-profile': number;
}

export const NO_PUSHES: PushCounters = { shown: 0, malformed: 0, tampered: 0, 'other-hub': 0, replayed: 0, 'no-profile': 0 };

/** The push numbers this phone has seen (decimal), smallest first, at most SEEN_KEPT. */
export interface SeenPushes {
  readonly seen: readonly string[];
}

/** How many push numbers are remembered: older ones than all of these are refused as replays. */
export const SEEN_KEPT = 512;

export function openPushText(text: string, profile: PhoneProfile): { ok: PushMessage } | { refused: PushRefusal } {
  if (text.length !== PUSH_TEXT_CHARS) return { refused: 'malformed' };
  let wire: Uint8Array;
  try {
    wire = fromBase64url(text);
  } catch {
    return { refused: 'malformed' };
  }
  try {
    return { ok: openPushMessage(wire, profile.device, profile.hub) };
  } catch (e) {
    if (!isCryptoError(e)) throw e;
    if (e.code === 'not-for-me') return { refused: 'other-hub' };
    if (e.code === 'tampered') return { refused: 'tampered' };
    return { refused: 'malformed' };
  }
}

/** Whether `seq` is new; if so, the seen list with it (pushes may arrive out of order). */
export function takeSeq(state: SeenPushes, seq: bigint): { fresh: false } | { fresh: true; next: SeenPushes } {
  const seen = state.seen.map((s) => BigInt(s));
  if (seen.includes(seq)) return { fresh: false };
  if (seen.length >= SEEN_KEPT && seq < seen[0]!) return { fresh: false };
  const next = [...seen, seq].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(-SEEN_KEPT);
  return { fresh: true, next: { seen: next.map(String) } };
}

/** Where a tap opens the app: its timeline at this camera and time (read by the app's timeline). */
export function timelineHash(cameraIdHex: string, timeMs: number): string {
  return `#timeline=${cameraIdHex}@${timeMs}`;
}

/** Reads a timeline hash back; undefined if it is not one. */
export function readTimelineHash(hash: string): { camera: string; time: number } | undefined {
  const m = /^#timeline=([0-9a-f]{32})@(\d{1,15})$/.exec(hash);
  return m === null ? undefined : { camera: m[1]!, time: Number(m[2]) };
}

export interface PushNotification {
  readonly title: string;
  readonly body: string;
  /** A data: URL of the JPEG, when the push carried one. */
  readonly image?: string;
  readonly tag: string;
  readonly data: { readonly camera: string; readonly cameraName: string; readonly kind: PushKind; readonly time: number; readonly hash: string };
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function notificationFor(m: PushMessage): PushNotification {
  const camera = toHex(m.cameraId);
  const at = new Date(m.eventStart);
  const hh = String(at.getHours()).padStart(2, '0');
  const mm = String(at.getMinutes()).padStart(2, '0');
  const ss = String(at.getSeconds()).padStart(2, '0');
  return {
    title: `${kindLabel(m.kind)} — ${m.cameraName}`,
    body: `${m.cameraName}, ${hh}:${mm}:${ss}. Tap to see it.`,
    ...(m.thumbnail.length > 0 ? { image: `data:image/jpeg;base64,${base64(m.thumbnail)}` } : {}),
    tag: `vigil-${camera}-${m.eventStart}`,
    data: { camera, cameraName: m.cameraName, kind: m.kind, time: m.eventStart, hash: timelineHash(camera, m.eventStart) },
  };
}
