// What a phone asks of Web Push (PROTOCOL §17.3): the `push-subscribe`, `push-unsubscribe` and
// `push-settings` commands' arguments and results, and the shape checks the hub runs on them before
// any handler sees them. Whether an endpoint may be reached at all (https, no private address) is
// the hub's policy (main/push/endpoint.ts); here only shapes and bounds.
import { fromBase64url } from './bytes.ts';
import { PUSH_KINDS, type PushKind } from './push.ts';

/** Quiet hours in the phone's own time: minutes after midnight, and its offset from UTC when it said so. */
export interface QuietHours {
  /** 0..1439; `from` > `to` spans midnight. */
  readonly from: number;
  readonly to: number;
  /** The phone's UTC offset in minutes (east positive), -840..840. */
  readonly utcOffset: number;
}

export interface PushPrefs {
  /** Camera ids to push for; absent: every camera. */
  readonly cameras?: readonly string[];
  /** Kinds to push; absent: every kind. */
  readonly kinds?: readonly PushKind[];
  readonly quiet?: QuietHours;
  /** At most one push per camera this often, 0..86400 s. */
  readonly cooldownSeconds: number;
  /** Silent while any owner phone is at home (connected through the hub's LAN endpoint). */
  readonly awayOnly: boolean;
}

export const DEFAULT_PUSH_PREFS: PushPrefs = { cooldownSeconds: 60, awayOnly: false };
export const MAX_PUSH_ENDPOINT_CHARS = 1024;
export const MAX_PUSH_PREF_CAMERAS = 64;
export const MAX_PUSH_COOLDOWN_SECONDS = 86_400;
/** An uncompressed P-256 point (RFC 8291's ua_public). */
export const PUSH_P256DH_BYTES = 65;
/** RFC 8291's auth_secret. */
export const PUSH_AUTH_BYTES = 16;

export interface PushSubscribeArgs {
  readonly endpoint: string;
  /** base64url, as PushSubscription.toJSON() gives them. */
  readonly p256dh: string;
  readonly auth: string;
  readonly prefs: PushPrefs;
}

export interface PushSettingsResult {
  /** The hub's VAPID public key (RFC 8292), base64url of the uncompressed P-256 point: the app's applicationServerKey. */
  readonly vapidKey: string;
  readonly subscribed: boolean;
  readonly prefs: PushPrefs;
}

/** A bad argument: phone-commands.ts turns it into a `bad-arguments` refusal. */
export class PushArgsError extends Error {
  override readonly name = 'PushArgsError';
}

function record(raw: unknown): Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}

function intIn(v: unknown, lo: number, hi: number, what: string): number {
  if (!(Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi)) throw new PushArgsError(`${what} must be a whole number ${lo}..${hi}`);
  return v as number;
}

export function readPushPrefs(raw: unknown): PushPrefs {
  if (raw === undefined || raw === null) return DEFAULT_PUSH_PREFS;
  const a = record(raw);
  let cameras: string[] | undefined;
  if (a.cameras !== undefined) {
    if (!Array.isArray(a.cameras) || a.cameras.length > MAX_PUSH_PREF_CAMERAS) throw new PushArgsError(`cameras must list at most ${MAX_PUSH_PREF_CAMERAS} camera ids`);
    cameras = a.cameras.map((c: unknown) => {
      if (typeof c !== 'string' || !/^[0-9a-f]{32}$/.test(c)) throw new PushArgsError('each camera is a camera id (32 hex digits)');
      return c;
    });
  }
  let kinds: PushKind[] | undefined;
  if (a.kinds !== undefined) {
    if (!Array.isArray(a.kinds) || a.kinds.length > PUSH_KINDS.length) throw new PushArgsError('kinds must list event kinds');
    kinds = a.kinds.map((k: unknown) => {
      const kind = PUSH_KINDS.find((n) => n === k);
      if (kind === undefined) throw new PushArgsError(`each kind is one of ${PUSH_KINDS.join(', ')}`);
      return kind;
    });
  }
  let quiet: QuietHours | undefined;
  if (a.quiet !== undefined && a.quiet !== null) {
    const q = record(a.quiet);
    quiet = { from: intIn(q.from, 0, 1439, 'quiet.from'), to: intIn(q.to, 0, 1439, 'quiet.to'), utcOffset: intIn(q.utcOffset ?? 0, -840, 840, 'quiet.utcOffset') };
  }
  const cooldownSeconds = a.cooldownSeconds === undefined ? DEFAULT_PUSH_PREFS.cooldownSeconds : intIn(a.cooldownSeconds, 0, MAX_PUSH_COOLDOWN_SECONDS, 'cooldownSeconds');
  if (a.awayOnly !== undefined && typeof a.awayOnly !== 'boolean') throw new PushArgsError('awayOnly must be true or false');
  return {
    ...(cameras !== undefined ? { cameras } : {}),
    ...(kinds !== undefined ? { kinds } : {}),
    ...(quiet !== undefined ? { quiet } : {}),
    cooldownSeconds,
    awayOnly: a.awayOnly === true,
  };
}

function key(v: unknown, bytes: number, what: string): string {
  if (typeof v !== 'string' || v.length > 128 || !/^[A-Za-z0-9_-]+={0,2}$/.test(v)) throw new PushArgsError(`${what} must be base64url`);
  const stripped = v.replace(/=+$/, '');
  let decoded: Uint8Array;
  try {
    decoded = fromBase64url(stripped);
  } catch {
    throw new PushArgsError(`${what} must be base64url`);
  }
  if (decoded.length !== bytes) throw new PushArgsError(`${what} must be ${bytes} bytes`);
  if (what === 'p256dh' && decoded[0] !== 0x04) throw new PushArgsError('p256dh must be an uncompressed P-256 point');
  return stripped;
}

export function readPushSubscribe(raw: unknown): PushSubscribeArgs {
  const a = record(raw);
  if (typeof a.endpoint !== 'string' || a.endpoint.length === 0 || a.endpoint.length > MAX_PUSH_ENDPOINT_CHARS) {
    throw new PushArgsError(`endpoint must be a URL of at most ${MAX_PUSH_ENDPOINT_CHARS} characters`);
  }
  return { endpoint: a.endpoint, p256dh: key(a.p256dh, PUSH_P256DH_BYTES, 'p256dh'), auth: key(a.auth, PUSH_AUTH_BYTES, 'auth'), prefs: readPushPrefs(a.prefs) };
}

export function readPushSettings(raw: unknown): { readonly prefs?: PushPrefs } {
  const a = record(raw);
  return a.prefs === undefined ? {} : { prefs: readPushPrefs(a.prefs) };
}
