// Why a call to the hub failed: a HubError with a stable code. The hub's logic (hub.ts, the service)
// throws these, never a transport's error; each adapter maps the code to what it speaks (the local
// HTTP API to a status, local-api.ts; Electron IPC to `{ok: false, error}`). The message is shown to
// the owner as is: it never carries secrets.

export type HubErrorCode =
  | 'bad-argument' // a call's argument is missing or malformed, or the store refused it (a taken name, a bad URL)
  | 'not-found' // no such camera, phone or invite
  | 'conflict'; // not possible in the hub's state: no relay or LAN endpoint to pair over, no --lan, an invite no phone waits on

export class HubError extends Error {
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
  }
}

export function isHubError(e: unknown, code?: HubErrorCode): e is HubError {
  return e instanceof HubError && (code === undefined || e.code === code);
}
