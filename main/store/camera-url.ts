// Camera URLs arrive with credentials in them (`rtsp://admin:pa%40ss@192.168.1.20/stream`, or, on
// some cheap cameras, `?user=admin&password=…`). The store keeps the URL without them, so the
// `url` column, the UI and every log line can show it; the password is sealed in its own column and
// put back only for ffmpeg.
import { StoreError } from './errors.ts';

export const MAX_CAMERA_URL_CHARS = 2048;
export const MAX_CREDENTIAL_CHARS = 256;
const CAMERA_SCHEMES = new Set(['rtsp:', 'rtsps:', 'rtspt:']);
const USER_PARAMS = new Set(['user', 'username', 'usr', 'login']);
const PASSWORD_PARAMS = new Set(['password', 'pass', 'passwd', 'pwd']);
/** Anything still looking like a password after splitting: refused rather than stored in clear. */
const LEFTOVER_PASSWORD = /(?:^|[?&/;])(?:password|pass|passwd|pwd)=/i;

export interface CameraCredentials {
  readonly username: string | null;
  readonly password: string | null;
  /** Query parameter names the camera reads credentials from; null when they go in the userinfo. */
  readonly usernameParam: string | null;
  readonly passwordParam: string | null;
}

export interface SplitCameraUrl extends CameraCredentials {
  /** The URL with no credentials in it. */
  readonly url: string;
}

/** Percent-decoding that keeps a literal `%` a user typed unencoded (`pw100%`). */
function decodeLoose(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The URL's scheme and host only, safe for an error message (paths can hold credentials too). */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(unparseable URL)';
  }
}

export function splitCameraUrl(raw: string): SplitCameraUrl {
  const where = 'splitCameraUrl';
  if (raw.length > MAX_CAMERA_URL_CHARS) throw new StoreError('invalid', where, `URL longer than ${MAX_CAMERA_URL_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new StoreError('invalid', where, 'URL contains control characters');
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    // Never echo the input: it may hold a password.
    throw new StoreError('invalid', where, 'not a URL (expected rtsp://host[:port]/path)');
  }
  if (!CAMERA_SCHEMES.has(u.protocol)) throw new StoreError('invalid', where, `unsupported scheme ${JSON.stringify(u.protocol)} (expected rtsp:// or rtsps://)`);
  if (u.hostname === '') throw new StoreError('invalid', where, 'URL has no host');
  if (u.hash !== '') throw new StoreError('invalid', where, 'URL has a #fragment, which RTSP does not use (a password with # must be written %23)');

  let username: string | null = u.username === '' ? null : decodeLoose(u.username);
  let password: string | null = u.password === '' ? null : decodeLoose(u.password);
  let usernameParam: string | null = null;
  let passwordParam: string | null = null;
  u.username = '';
  u.password = '';

  if (u.search.length > 1) {
    // Split by hand rather than with URLSearchParams, which would re-encode the parameters we keep
    // and some camera firmware compares them byte for byte.
    const kept: string[] = [];
    for (const piece of u.search.slice(1).split('&')) {
      const eq = piece.indexOf('=');
      const rawName = eq < 0 ? piece : piece.slice(0, eq);
      const name = decodeLoose(rawName).toLowerCase();
      const value = eq < 0 ? '' : decodeLoose(piece.slice(eq + 1).replace(/\+/g, ' '));
      if (username === null && usernameParam === null && USER_PARAMS.has(name)) {
        usernameParam = rawName;
        username = value === '' ? null : value;
      } else if (password === null && passwordParam === null && PASSWORD_PARAMS.has(name)) {
        passwordParam = rawName;
        password = value === '' ? null : value;
      } else {
        kept.push(piece);
      }
    }
    u.search = kept.length > 0 ? `?${kept.join('&')}` : '';
  }
  const url = u.toString();
  if (LEFTOVER_PASSWORD.test(url)) {
    throw new StoreError('invalid', where, `${redactUrl(url)} carries a password in a form Vigil cannot separate; give the username and password on their own`);
  }
  checkCredential(username, 'username', where);
  checkCredential(password, 'password', where);
  return { url, username, password, usernameParam, passwordParam };
}

export function checkCredential(value: string | null, what: string, where: string): void {
  if (value === null) return;
  if (value.length > MAX_CREDENTIAL_CHARS) throw new StoreError('invalid', where, `${what} longer than ${MAX_CREDENTIAL_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new StoreError('invalid', where, `${what} contains control characters`);
}

/** The URL ffmpeg needs, credentials percent-encoded in the place the camera expects them. */
export function joinCameraUrl(url: string, creds: CameraCredentials): string {
  const u = new URL(url);
  const enc = encodeURIComponent;
  if (creds.usernameParam === null && creds.passwordParam === null) {
    // encodeURIComponent also escapes '%', which the URL setters would leave as is.
    if (creds.username !== null) u.username = enc(creds.username);
    if (creds.password !== null) u.password = enc(creds.password);
    return u.toString();
  }
  const extra: string[] = [];
  if (creds.usernameParam !== null) extra.push(`${creds.usernameParam}=${enc(creds.username ?? '')}`);
  else if (creds.username !== null) u.username = enc(creds.username);
  if (creds.passwordParam !== null) extra.push(`${creds.passwordParam}=${enc(creds.password ?? '')}`);
  else if (creds.password !== null) u.password = enc(creds.password);
  const query = [u.search.slice(1), ...extra].filter((p) => p !== '').join('&');
  u.search = query === '' ? '' : `?${query}`;
  return u.toString();
}
