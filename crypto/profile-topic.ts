// A camera profile's relay topic (docs/PROTOCOL.md §10.2), e.g. the hub's H.264 transcode of an H.265
// camera:
//
//   topic = hex(SHA-256(LABEL_PROFILE_TOPIC || 0x00 || cameraId (16 bytes) || 0x00 || name)[0..16])
//
// Deterministic, so it survives hub restarts like the camera's own (random) topic. From the camera's
// id, which a relay never sees (frames carry it encrypted, §9), not from the camera's topic: a relay
// that hashed every topic it carries could otherwise link the two. It names a topic, never a key, and
// stays SHA-256, not the H() of the key derivations, so that no profile's topic moves. libsodium's
// standard build has no SHA-256, so the caller passes one (the hub: node:crypto's) and crypto/ stays
// free of Node.
import { concat, toHex, utf8 } from './bytes.ts';
import { LABEL_PROFILE_TOPIC } from './labels.ts';

/** SHA-256 of a message: 32 bytes. */
export type Sha256 = (message: Uint8Array) => Uint8Array;

const CAMERA_ID_BYTES = 16;
export const PROFILE_TOPIC_BYTES = 16;

/** The profile's topic as the relay protocol carries it in hex (32 characters). */
export function profileTopic(cameraId: Uint8Array, name: string, sha256: Sha256): string {
  if (cameraId.length !== CAMERA_ID_BYTES) throw new RangeError(`profileTopic: camera id must be ${CAMERA_ID_BYTES} bytes`);
  if (name.length === 0) throw new RangeError('profileTopic: empty profile name');
  const digest = sha256(concat(utf8(LABEL_PROFILE_TOPIC), Uint8Array.of(0), cameraId, Uint8Array.of(0), utf8(name)));
  if (digest.length !== 32) throw new RangeError('profileTopic: sha256 must return 32 bytes');
  return toHex(digest.subarray(0, PROFILE_TOPIC_BYTES));
}
