// Every failure of the protocol is one of these. "not for me" is the quiet kind: a frame or message
// addressed to another key, camera or hub, which a receiver skips without alarm. Everything else is a
// real error with context. No error message ever carries key material, invite secrets or plaintext.

export type CryptoErrorCode =
  | 'malformed' // bytes that do not parse: wrong length, trailing data, non-canonical encoding
  | 'unsupported' // a version or suite this build does not speak (never downgraded)
  | 'not-for-me' // wrong key id, unknown epoch, another hub or another recipient
  | 'tampered' // authentication failed: a changed bit, a wrong key, a forged signature
  | 'replayed' // a counter or sequence number seen before, or too old for the window
  | 'expired' // an invite, certificate or command past its time
  | 'forbidden' // authentic, but the sender's role or roster status does not allow it
  | 'wrong-hub-key'; // the hub answering is not the hub the QR named

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  /** Where it happened, e.g. `openFrame(camera=3, epoch=7)`; never secrets. */
  readonly where: string;

  constructor(code: CryptoErrorCode, where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: ${detail}`, options);
    this.name = 'CryptoError';
    this.code = code;
    this.where = where;
  }
}

export function malformed(where: string, detail: string): CryptoError {
  return new CryptoError('malformed', where, detail);
}

export function isCryptoError(e: unknown, code?: CryptoErrorCode): e is CryptoError {
  return e instanceof CryptoError && (code === undefined || e.code === code);
}
