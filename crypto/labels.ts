// Domain-separation labels. docs/PROTOCOL.md quotes each one exactly; changing a label is a
// protocol version change. Every hash, signature and key derivation in Vigil starts with one.

export const PROTOCOL_VERSION = 1;

export const LABEL_HUB_ID = 'vigil v1 hub id';
export const LABEL_DEVICE_ID = 'vigil v1 device id';
export const LABEL_INVITE_PSK = 'vigil v1 invite psk';
export const LABEL_PAIRING_PROLOGUE = 'vigil v1 pairing';
export const LABEL_PAIRING_CODE = 'vigil v1 pairing code';
export const LABEL_HUB_KEYS = 'vigil v1 hub keys';
export const LABEL_CERTIFICATE = 'vigil v1 device certificate';
export const LABEL_SESSION_PROLOGUE = 'vigil v1 session';
export const LABEL_SESSION_PSK = 'vigil v1 session psk';
export const LABEL_SESSION_TAG = 'vigil v1 session tag';
export const LABEL_KEY_UPDATE = 'vigil v1 key update';
export const LABEL_KEY_UPDATE_OFFLINE = 'vigil v1 key update offline';
export const LABEL_ROSTER = 'vigil v1 roster';
// The frame labels carry the frame's own version (FRAME_VERSION in crypto/frame.ts, now 2): a
// frame key of one version is never a frame key of another.
export const LABEL_FRAME_KEY = 'vigil v2 frame key';
export const LABEL_FRAME_SALT = 'vigil v2 frame salt';
export const LABEL_FRAME_KID = 'vigil v2 frame kid';
export const LABEL_COMMAND = 'vigil v1 command';
/** Names a frame sealer's (key, salt) in the per-process registry that forbids a second sealer. */
export const LABEL_FRAME_SEALER = 'vigil v1 frame sealer';
export const LABEL_PAIRING_CONFIRM = 'vigil v1 pairing confirm';
export const LABEL_LAN_ID = 'vigil v1 lan id';
/** Names a camera profile's relay topic (crypto/profile-topic.ts): a topic, never a key. */
export const LABEL_PROFILE_TOPIC = 'vigil v1 profile topic';
// Recordings (crypto/recording.ts, PROTOCOL §15).
export const LABEL_RECORDING_EPOCH = 'vigil v1 recording epoch';
export const LABEL_RECORDING_EPOCH_SEAL = 'vigil v1 recording epoch seal';
export const LABEL_SEGMENT_KEY = 'vigil v1 segment key';
export const LABEL_SEGMENT_HEADER = 'vigil v1 segment header';
export const LABEL_SEGMENT_CHAIN = 'vigil v1 segment chain';
export const LABEL_SEGMENT_PROOF = 'vigil v1 segment proof';
// The roster log (crypto/roster-log.ts, PROTOCOL §16).
export const LABEL_ROSTER_ENTRY = 'vigil v1 roster entry';
export const LABEL_ROSTER_HEAD = 'vigil v1 roster head';
/** The cross-check between owner phones (crypto/crosscheck.ts, PROTOCOL §16.4): its mailbox id and the sender's signature. */
export const LABEL_CROSSCHECK = 'vigil v1 roster crosscheck';
// Events (crypto/event.ts, PROTOCOL §17).
export const LABEL_EVENT = 'vigil v1 event';
export const LABEL_EVENT_KEY = 'vigil v1 event key';
// Web Push (crypto/push.ts, PROTOCOL §17.3).
export const LABEL_PUSH = 'vigil v1 push';
export const LABEL_PUSH_SEAL = 'vigil v1 push seal';
export const LABEL_EVENT_PREVIEW = 'vigil v1 event preview';
// Backup and restore (crypto/backup.ts, PROTOCOL §18).
export const LABEL_BACKUP = 'vigil v1 backup';
export const LABEL_BACKUP_WRAP = 'vigil v1 backup wrap';
export const LABEL_BACKUP_SHARE = 'vigil v1 backup share';
export const LABEL_RECOVERY_CODE = 'vigil v1 recovery code';
export const LABEL_RESTORE_PROLOGUE = 'vigil v1 restore';
export const LABEL_RESTORE_PSK = 'vigil v1 restore psk';
