// Test-only: identities from fixed seeds, so known-answer vectors (test/crypto/vectors/*.json) can
// name every key by a seed a reader can re-derive. Real identities come from newHubIdentity and
// newDeviceIdentity (fresh randomness); a seeded identity in production would be a shared key.
// Refused outside a test runner, like the other *.testing.ts hooks, and never imported by shipped
// code (the linter enforces that).
import { CryptoError } from './errors.ts';
import { importDeviceIdentity, importHubIdentity, type DeviceIdentity, type HubIdentity } from './identity.ts';
import { isTestEnvironment } from './noise.ts';
import { sodium } from './sodium.ts';
import { Writer } from './wire.ts';

/** 32-byte seeds: Ed25519 seeds for signing and relay, the X25519 private key, the X-Wing seed. */
export interface HubSeeds {
  readonly signing: Uint8Array;
  readonly exchange: Uint8Array;
  readonly pq: Uint8Array;
  readonly relay: Uint8Array;
}

export type DeviceSeeds = Omit<HubSeeds, 'relay'>;

function refuseOutsideTests(where: string): void {
  if (!isTestEnvironment()) throw new CryptoError('forbidden', where, 'seeded identities are for tests only');
}

function ed25519Secret(seed: Uint8Array): Uint8Array {
  return sodium().crypto_sign_seed_keypair(seed).privateKey;
}

/** Built through importHubIdentity, so the result is exactly what the hub's store would load. */
export function hubIdentityFromSeeds(seeds: HubSeeds): HubIdentity {
  refuseOutsideTests('hubIdentityFromSeeds');
  return importHubIdentity(new Writer().u8(0x48)
    .fixed(ed25519Secret(seeds.signing), 64).fixed(seeds.exchange, 32).fixed(seeds.pq, 32).fixed(ed25519Secret(seeds.relay), 64)
    .finish());
}

/** Built through importDeviceIdentity, so the result is exactly what a phone profile would load. */
export function deviceIdentityFromSeeds(seeds: DeviceSeeds): DeviceIdentity {
  refuseOutsideTests('deviceIdentityFromSeeds');
  return importDeviceIdentity(new Writer().u8(0x44)
    .fixed(ed25519Secret(seeds.signing), 64).fixed(seeds.exchange, 32).fixed(seeds.pq, 32)
    .finish());
}
