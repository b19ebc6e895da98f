// The hub's VAPID key pair (RFC 8292): a P-256 key the hub signs its push requests with, so a push
// service accepts pushes to a subscription only from the server the subscription was made for (the
// app subscribes with the public half as applicationServerKey). One per hub, made the first time it
// is needed; the private half is sealed in the store (meta.vapid_key) and never logged.
import { createECDH } from 'node:crypto';
import type { Secret } from '../../crypto/secret.ts';
import type { Store } from '../store/db.ts';

export interface VapidKeys {
  /** The uncompressed P-256 point, 65 bytes: what phones subscribe with. */
  readonly publicKey: Uint8Array;
  /** 32 bytes. */
  readonly privateKey: Secret;
}

function newPrivateKey(): Uint8Array {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const raw = ecdh.getPrivateKey();
  // Node may drop leading zero bytes; RFC 8292 (and web-push) want exactly 32.
  const key = new Uint8Array(32);
  key.set(raw, 32 - raw.length);
  raw.fill(0);
  return key;
}

export function vapidKeys(store: Pick<Store, 'getOrCreateVapidKey'>): VapidKeys {
  const privateKey = store.getOrCreateVapidKey(newPrivateKey);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey.expose());
  return { publicKey: new Uint8Array(ecdh.getPublicKey()), privateKey };
}
