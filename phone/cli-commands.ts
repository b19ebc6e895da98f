// `vigil-phone`'s commands and options: phone/cli.ts parses with these tables and prints --help from
// them, and test/main/cli-help.test.ts checks every command against them. No side effects on import.
import type { CliCommand, CliOption, CliProgram } from '../relay/cli-options.ts';

const profile: CliOption = { type: 'string', value: 'FILE', required: true, help: 'the phone\'s profile: its keys and its hub (written mode 0600)' };
const camera: CliOption = { type: 'string', value: 'NAME', required: true, help: 'the camera, by name (or id)' };
const relay: CliOption = {
  type: 'string', value: 'URL', multiple: true,
  help: 'use this relay instead of those the hub gave (repeat it for the nodes\nof a relay cluster)',
};

/** How the phone reaches its hub: shared by every command that talks to a paired hub. */
const linkOptions: Record<string, CliOption> = {
  relay,
  path: {
    type: 'string', value: 'auto|lan|relay',
    help: 'auto (default): straight from the hub\'s LAN endpoint when it answers,\nelse through the relay, moving between them by itself; lan or relay: only\nthat path',
  },
  mdns: { type: 'boolean', help: 'look for the hub on the local network first (multicast DNS; off by\ndefault)' },
};

export const PAIR: CliCommand = {
  name: 'vigil-phone pair',
  summary: 'Pairs with a hub from its pairing link (vigil invite, or the hub UI\'s "Pair a phone").',
  args: ['LINK'],
  options: {
    profile: { ...profile, help: 'where to save the new profile (must not exist yet; written mode 0600)' },
    name: { type: 'string', value: 'NAME', help: 'the name the hub shows for this phone (default vigil-phone)' },
    relay: { ...relay, help: 'pair through this relay instead of those in the link' },
  },
};

export const CAMERAS: CliCommand = {
  name: 'vigil-phone cameras',
  summary: 'Lists the hub\'s cameras: name, state, codecs.',
  options: { profile, json: { type: 'boolean', help: 'one JSON object per camera' }, ...linkOptions },
};

export const WATCH: CliCommand = {
  name: 'vigil-phone watch',
  summary: 'Watches a camera for N seconds and writes the decrypted video to an MP4 file.',
  options: {
    profile, camera,
    seconds: { type: 'string', value: 'N', required: true, help: 'how long to watch (at most a day)' },
    out: { type: 'string', value: 'FILE.mp4', required: true, help: 'where to write the fragmented MP4 (MPEG-TS for mpeg1)' },
    stream: {
      type: 'string', value: 'native|h264|mpeg1',
      help: 'native (default): the camera\'s own stream; h264: the hub\'s H.264\ntranscode of an H.265 camera; mpeg1: MPEG-1 and MP2 in MPEG-TS\n(the file is MPEG-TS), for players without Media Source (the hub\nruns a transcode only while someone watches)',
    },
    ...linkOptions,
  },
};

export const SNAPSHOT: CliCommand = {
  name: 'vigil-phone snapshot',
  summary: 'Saves a JPEG snapshot of a camera that can take one.',
  options: { profile, camera, out: { type: 'string', value: 'FILE.jpg', required: true, help: 'where to write the JPEG' }, ...linkOptions },
};

export const PTZ: CliCommand = {
  name: 'vigil-phone ptz',
  summary: 'Moves a PTZ camera: one of --move, --stop or --preset.',
  options: {
    profile, camera,
    move: { type: 'string', value: 'PAN,TILT,ZOOM', help: 'move at these speeds, each from -1 to 1 (write --move=-1,0,0 for a\nnegative first one)' },
    seconds: { type: 'string', value: 'S', help: 'how long --move lasts (default 1)' },
    stop: { type: 'boolean', help: 'stop moving' },
    preset: { type: 'string', value: 'N', help: 'go to this preset' },
    ...linkOptions,
  },
};

const from: CliOption = {
  type: 'string', value: 'TIME', required: true,
  help: 'where the clip starts: ISO 8601 (2026-03-01T14:30:00Z; without a zone, local\ntime) or relative to now (now-90s, now-2h)',
};
const clipSeconds: CliOption = { type: 'string', value: 'N', required: true, help: 'how much to take from TIME, in seconds (at most a day)' };
const WHOLE_SEGMENTS = 'Recordings are kept in segments of a few seconds and the file holds whole\nsegments: it may start up to a segment before TIME and end up to one after.';

export const RECORDINGS: CliCommand = {
  name: 'vigil-phone recordings',
  summary: 'Lists what a camera recorded: its ranges in ISO 8601, and its events.',
  options: {
    profile, camera,
    json: { type: 'boolean', help: 'one JSON object: camera, mode, ranges [{start, end}],\nevents [{id, time, end, kind}] (those this phone holds a key of)' },
    ...linkOptions,
  },
};

export const PLAY: CliCommand = {
  name: 'vigil-phone play',
  summary: 'Writes N seconds of a camera\'s recordings from TIME to an MP4 that starts at 0 s.',
  options: {
    profile, camera, from, seconds: clipSeconds,
    out: { type: 'string', value: 'FILE.mp4', required: true, help: 'where to write the MP4 (fragmented)' },
    ...linkOptions,
  },
  notes: `${WHOLE_SEGMENTS}\nOf a damaged segment only the fragments before the damage go in (said on\nstderr), and the rest plays; a segment of an epoch this phone holds no key of\n(recorded before it was paired) is left out.`,
};

export const EXPORT: CliCommand = {
  name: 'vigil-phone export',
  summary: 'Exports N seconds of a camera\'s recordings from TIME as evidence: an MP4 and its proof.',
  options: {
    profile, camera, from, seconds: clipSeconds,
    out: { type: 'string', value: 'CLIP.mp4', required: true, help: 'where to write the MP4; its proof goes to CLIP.mp4.proof beside it' },
    ...linkOptions,
  },
  notes: `${WHOLE_SEGMENTS}\nThe hub signed a hash chain over every chunk of each segment, so only whole\nsegments can be proven, and only those the hub signed go in (not one still\nbeing written). Check a clip with 'vigil verify-export CLIP.mp4' (no hub needed).`,
};

export const ROSTER: CliCommand = {
  name: 'vigil-phone roster',
  summary: 'Checks the roster log: who holds the keys, the safety code, changes not yet seen.',
  options: {
    profile,
    json: { type: 'boolean', help: 'one JSON object: {"safetyCode", "length", "members": [...], "unseen": [...],\n"crossChecked": {ID: {checkedAt, length, agrees}}, "splits": [...],\n"crossCheckRound"}' },
    ...linkOptions,
  },
  notes: 'Compare the safety code with the one the hub (vigil roster) and every owner phone shows: the\nsame code means the same log. A log the hub rewrote after this phone checked it is refused.\nAn owner phone also cross-checks the log with the other owner phones through the relay, sealed\nphone to phone: this command sends a round and waits up to 2 s for those online to answer, then\nprints when it last cross-checked with each ("same log" or LOG SPLIT). watch and\nevents --follow cross-check while they run (and answer other phones); other commands do not.',
};

export const ALERTS: CliCommand = {
  name: 'vigil-phone alerts',
  summary: 'Prints roster changes (phones added or removed) this phone learnt of after it joined,\nand log splits another owner phone\'s cross-check revealed.',
  options: {
    profile,
    json: { type: 'boolean', help: 'one JSON object per alert' },
    ack: { type: 'boolean', help: 'mark every alert printed as seen' },
    ...linkOptions,
  },
};

export const SHARE_HISTORY: CliCommand = {
  name: 'vigil-phone share-history',
  summary: 'Owners: gives another phone the recordings made before it was paired.',
  options: {
    profile,
    phone: { type: 'string', value: 'NAME_OR_ID', required: true, help: 'the phone to share with: its name on the roster, or its id (8+ hex digits)' },
    from: {
      type: 'string', value: 'TIME',
      help: 'share only what was recorded from TIME on: ISO 8601 or relative to now\n(now-2h, now-7d); default: everything this phone holds a key of',
    },
    json: { type: 'boolean', help: 'one JSON object: to, epochs, stored, held, entries' },
    ...linkOptions,
  },
  notes: 'This phone opens its own recording keys and seals each to the other phone\'s key, checked\nagainst the roster log; the hub stores them for it and adds a \'history-shared\' entry that\nevery phone shows as an alert. The hub cannot share history itself: it holds no key.',
};

export const EVENTS: CliCommand = {
  name: 'vigil-phone events',
  summary: 'Lists the hub\'s events (motion, ...), opened on this phone: camera, kind, times, zones.',
  options: {
    profile,
    camera: { ...camera, required: false, help: 'only this camera\'s events, by name (or id)' },
    json: { type: 'boolean', help: 'one JSON object per event: id, camera, kind, start, end, score, zones,\nsource, recording {from, to}, revision, epoch, preview (its bytes, or null)' },
    follow: { type: 'boolean', help: 'after the list, print events as the hub tells them (with --seconds)' },
    seconds: { type: 'string', value: 'N', help: 'with --follow: for how long (at most a day)' },
    ...linkOptions,
  },
  notes: 'Only events of the recording epochs this phone holds a key of are listed: none from before it\nwas paired, none from after it was removed. A sealed event that does not open is said on\nstderr and the command exits 1.',
};

export const EVENT_IMAGE: CliCommand = {
  name: 'vigil-phone event-image',
  summary: 'Saves an event\'s preview picture (a JPEG the hub sealed at the event\'s peak).',
  options: {
    profile,
    event: { type: 'string', value: 'ID', required: true, help: 'the event\'s id (vigil-phone events)' },
    out: { type: 'string', value: 'FILE.jpg', required: true, help: 'where to write the JPEG' },
    ...linkOptions,
  },
};

export const BACKUP: CliCommand = {
  name: 'vigil-phone backup',
  summary: 'Owners: fetches and keeps the hub\'s sealed backup (PROFILE.backup).',
  options: {
    profile,
    out: { type: 'string', value: 'FILE', help: 'also write the sealed backup to FILE, for vigil restore --from FILE' },
    json: { type: 'boolean', help: 'one JSON object: id, madeAt, bytes, share, owners {k, n}, code' },
    ...linkOptions,
  },
};

export const APPROVE_RESTORE: CliCommand = {
  name: 'vigil-phone approve-restore',
  summary: 'Owners: approves restoring the hub on a new machine (vigil restore --from-phones).',
  options: {
    profile,
    invite: { type: 'string', value: 'LINK', required: true, help: 'the restore invite the new machine shows (vigil://restore/...)' },
    relay: { ...relay, help: 'reach the new machine through this relay instead of those in the invite' },
    json: { type: 'boolean', help: 'one JSON object: state (accepted, restored), have, need, hubId' },
  },
  notes: 'Sends this phone\'s share of the owners\' key and the backup it keeps (vigil-phone backup) to\nthe machine showing the invite, after checking that machine holds the invite\'s key. Only the\nowners\' k shares together open the backup.',
};

export const PHONE_PROGRAM: CliProgram = {
  name: 'vigil-phone',
  summary: 'A command-line phone: pairs with a hub and watches, on the same protocol as the phone app.',
  commands: [PAIR, CAMERAS, WATCH, SNAPSHOT, PTZ, RECORDINGS, PLAY, EXPORT, ROSTER, ALERTS, SHARE_HISTORY, EVENTS, EVENT_IMAGE, BACKUP, APPROVE_RESTORE],
};
