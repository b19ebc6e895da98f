// A camera profile's relay topic (docs/PROTOCOL.md §10.2), e.g. the hub's H.264 transcode of an H.265
// camera:
//
//   topic = hex(H("vigil v1 profile topic", 16, cameraId (16 bytes) || 0x00 || name))
//
// Deterministic, so it survives hub restarts like the camera's own (random) topic. From the camera's
// id, which a relay never sees (frames carry it encrypted, §9), not from the camera's topic: a relay
// that hashed every topic it carries could otherwise link the two. It names a topic, never a key; it
// uses the protocol's one hash H() like every other derivation (it was SHA-256 before issue 15:
// phones learn a profile's topic from list-cameras each time, so the move strands no one).
import { concat, toHex, utf8 } from './bytes.ts';
import { labeledHash } from './hash.ts';
import { LABEL_PROFILE_TOPIC } from './labels.ts';

const CAMERA_ID_BYTES = 16;
export const PROFILE_TOPIC_BYTES = 16;

/** The profile's topic as the relay protocol carries it in hex (32 characters). */
export function profileTopic(cameraId: Uint8Array, name: string): string {
  if (cameraId.length !== CAMERA_ID_BYTES) throw new RangeError(`profileTopic: camera id must be ${CAMERA_ID_BYTES} bytes`);
  if (name.length === 0) throw new RangeError('profileTopic: empty profile name');
  return toHex(labeledHash(LABEL_PROFILE_TOPIC, PROFILE_TOPIC_BYTES, concat(cameraId, Uint8Array.of(0), utf8(name))));
}
