// Test-only entry points into crypto/noise.ts, kept in their own file so production code has no
// reason to import it (and review can grep for `noise.testing`). Fixed ephemeral keys exist only to
// reproduce published test vectors: a fixed ephemeral in a real handshake would repeat keys and
// nonces across sessions and void forward secrecy. HandshakeState refuses these options outside a
// test runner (vitest), so even an accidental import fails closed in production.
import { HandshakeState, isTestEnvironment } from './noise.ts';
import type { HandshakeOptions } from './noise.ts';
import { CryptoError } from './errors.ts';

export interface FixedEphemeralOptions extends HandshakeOptions {
  /** The X25519 private key to use as this side's ephemeral, e.g. `init_ephemeral` of a cacophony vector. */
  readonly ephemeralPrivateKey: Uint8Array;
}

/** Like createHandshake, with a fixed ephemeral key; throws CryptoError('forbidden') outside tests. */
export function createHandshakeWithFixedEphemeral(options: FixedEphemeralOptions): HandshakeState {
  if (!isTestEnvironment()) {
    throw new CryptoError('forbidden', 'createHandshakeWithFixedEphemeral', 'test-only handshake options are refused outside tests');
  }
  const { ephemeralPrivateKey, ...handshake } = options;
  return new HandshakeState(handshake, { fixedEphemeral: ephemeralPrivateKey });
}
