// Every ONVIF failure the hub reports on purpose: a stable code for callers (the phone command
// handler maps them to replies) and a message an owner can act on. Never passwords.

export type OnvifErrorCode =
  | 'no-onvif' // the camera was not added from ONVIF discovery: no device service to talk to
  | 'no-ptz' // the camera (its profile) has no PTZ
  | 'no-snapshot' // the camera gives no snapshot URI
  | 'not-found' // no such camera
  | 'invalid-argument' // a PTZ value, preset token or option out of range
  | 'auth' // the camera refused the credentials
  | 'unreachable' // connection refused, no route, reset
  | 'timeout' // no complete answer in time
  | 'too-large' // a reply over its size bound
  | 'hostile-reply' // a reply with a DTD/entity declaration (XXE, billion laughs)
  | 'bad-reply' // a reply we cannot use (not SOAP, not a JPEG, a SOAP fault)
  | 'identity-changed' // the device at the camera's address is not the one the owner pinned
  | 'queue-full' // the phone already has as many PTZ actions waiting for this camera as it may
  | 'withdrawn'; // a queued PTZ action dropped before (or stopped while) it ran: the phone was removed

export class OnvifError extends Error {
  override readonly name = 'OnvifError';
  readonly code: OnvifErrorCode;
  /** e.g. `ptz(camera=3fa2…)`. */
  readonly where: string;

  constructor(code: OnvifErrorCode, where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: ${detail}`, options);
    this.code = code;
    this.where = where;
  }
}

export function isOnvifError(e: unknown, code?: OnvifErrorCode): e is OnvifError {
  return e instanceof OnvifError && (code === undefined || e.code === code);
}

/** Maps what the onvif library or node:http threw to an OnvifError (ours pass through). */
export function toOnvifError(e: unknown, where: string): OnvifError {
  if (e instanceof OnvifError) return e;
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof OnvifError) return cause;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (/timeout/i.test(msg) || code === 'ETIMEDOUT') return new OnvifError('timeout', where, 'the camera did not answer in time', { cause: e });
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|ENOTFOUND|EADDRNOTAVAIL)$/.test(code)) {
    return new OnvifError('unreachable', where, `cannot reach the camera (${code})`, { cause: e });
  }
  if (/socket hang up/i.test(msg)) return new OnvifError('unreachable', where, 'the camera closed the connection', { cause: e });
  if (/NotAuthorized|not authorized|authentication failed|Unauthorized|401/i.test(msg)) return new OnvifError('auth', where, 'the camera refused the user name or password', { cause: e });
  return new OnvifError('bad-reply', where, `unusable reply: ${msg.slice(0, 200)}`, { cause: e });
}
