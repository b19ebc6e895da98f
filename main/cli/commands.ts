// `vigil`'s commands and options: main/cli.ts parses with these tables and prints --help from them,
// and test/main/cli-help.test.ts checks every command against them. No side effects on import.
import type { CliCommand, CliGroup, CliOption, CliProgram } from '../../relay/cli-options.ts';
import { RELAY_COMMAND } from '../../relay/cli.ts';
import { DEFAULT_FRAGMENT_MS, MAX_FRAGMENT_MS } from '../../native/ingest.ts';
import { DISCOVER_COMMAND } from './discover.ts';

const data: CliOption = { type: 'string', value: 'DIR', required: true, help: 'the hub\'s data directory (keys, database, api-token)' };
const json: CliOption = { type: 'boolean', help: 'one JSON object per line' };

export const HUB: CliCommand = {
  name: 'vigil hub',
  summary: 'Runs the hub until Ctrl-C: pulls the cameras, seals their video, serves the phones.',
  options: {
    data: { ...data, help: 'the hub\'s data directory (made if missing; mode 0700)' },
    relay: { type: 'string', value: 'URL', multiple: true, help: 'a relay to reach phones through, e.g. wss://relay.example/v1' },
    lan: {
      type: 'string', value: 'HOST:PORT',
      help: 'serve phones at home straight from the hub on this address, e.g.\n0.0.0.0:7447 (off unless given: it listens on the network)',
    },
    announce: { type: 'boolean', help: 'announce the LAN endpoint with mDNS (multicast: only on a network you own)' },
    'lan-host': {
      type: 'string', value: 'ADDRESS',
      help: 'the address phones are told for the LAN endpoint (default: the --lan\nhost, or this machine\'s LAN address when that is 0.0.0.0)',
    },
    'no-lan': { type: 'boolean', help: 'no LAN endpoint, even when --lan is given' },
    ui: { type: 'string', value: 'HOST:PORT', help: 'serve the hub UI here (with the local API) and print its ui: link,\nwhich carries the token' },
    'ui-allow-remote': { type: 'boolean', help: 'allow --ui on an address other than loopback (plain HTTP on the LAN; the\ntoken is still needed)' },
    'app-url': {
      type: 'string', value: 'URL',
      help: 'where the phone app is served: pairing links become URL#pair=... and\nopen it (default: vigil://pair/... links, for the app or vigil-phone)',
    },
    'fragment-ms': {
      type: 'string', value: 'MS',
      help: `video per fragment sent to phones, 0..${MAX_FRAGMENT_MS} (default ${DEFAULT_FRAGMENT_MS}: one fragment per\nframe); higher is less CPU while watched and more delay`,
    },
    'rtsp-reader': {
      type: 'string', value: 'auto|ffmpeg',
      help: 'who reads RTSP cameras: auto (default: the hub\'s own reader for H.264/H.265\nvideo at one frame per fragment without audio, else ffmpeg) or ffmpeg',
    },
    'storage-max-gb': {
      type: 'string', value: 'N',
      help: 'the most all recordings may take on disk, in GiB (the oldest go first);\nwithout it only keep days and the free-space floor (1 GiB or 5 %) limit them',
    },
  },
};

export const CAMERA_ADD: CliCommand = {
  name: 'vigil camera add',
  summary: 'Adds a camera by its RTSP URL, or one that \'vigil discover --data DIR\' found.',
  args: ['[URL]'],
  options: {
    data,
    name: { type: 'string', value: 'NAME', help: 'the camera\'s name (needed with a URL; from discovery, the default is\nthe device\'s)' },
    'from-discovery': { type: 'string', value: 'ID', help: 'add the device with this id from the last \'vigil discover --data DIR\'\nlist, instead of a URL' },
    user: { type: 'string', value: 'U', help: 'with --from-discovery: the camera\'s user name (give --password too)' },
    password: { type: 'string', value: 'P', help: 'with --from-discovery: the camera\'s password' },
    'test-pattern': { type: 'boolean', help: 'add a built-in test pattern instead of a camera (no URL)' },
  },
  notes: 'URL is rtsp://[user:password@]HOST[:PORT]/PATH; the credentials are sealed at rest. If the hub is\n' +
    'running, it starts the camera at once; otherwise the camera starts with the hub.',
};

export const CAMERA_LIST: CliCommand = {
  name: 'vigil camera list',
  summary: 'Lists the cameras: number, name, state, URL (and the last error).',
  options: { data, json },
};

export const CAMERA_REMOVE: CliCommand = {
  name: 'vigil camera remove',
  summary: 'Removes a camera.',
  args: ['NAME'],
  options: { data },
};

export const CAMERA: CliGroup = { name: 'vigil camera', summary: 'Adds, lists and removes cameras.', commands: [CAMERA_ADD, CAMERA_LIST, CAMERA_REMOVE] };

export const INVITE: CliCommand = {
  name: 'vigil invite',
  summary: 'Prints a pairing link and its QR code, shows the phone\'s code, and approves the phone.',
  options: {
    data,
    yes: { type: 'boolean', help: 'approve the phone without asking (compare the code yourself first)' },
    role: { type: 'string', value: 'owner|viewer|guest', help: 'owner (default) may steer cameras; viewer may only watch;\nguest watches live only, the cameras given with --camera' },
    camera: { type: 'string', value: 'NAME', multiple: true, help: 'a guest or viewer sees only these cameras (repeat it);\nguests and scoped viewers see live video only' },
    from: { type: 'string', value: 'TIME', help: 'it gets keys from then on: ISO 8601 or now+2h (default: now)' },
    until: { type: 'string', value: 'TIME', help: 'then the hub removes it and starts new keys without it' },
    ttl: { type: 'string', value: 'SECONDS', help: 'how long the invite stays valid, 30..3600 (default 600)' },
  },
  notes: 'Needs the hub running (vigil hub --data DIR ...). --from and --until go with --camera.',
};

export const DEVICES_LIST: CliCommand = {
  name: 'vigil devices list',
  summary: 'Lists the paired phones: id, name, role, active or revoked.',
  options: { data, json },
};

export const DEVICES_REVOKE: CliCommand = {
  name: 'vigil devices revoke',
  summary: 'Removes a phone: it gets no new keys and the relay drops its subscriptions.',
  args: ['DEVICE_ID'],
  options: { data },
};

export const DEVICES_SCOPE: CliCommand = {
  name: 'vigil devices scope',
  summary: 'Changes which cameras a viewer or guest sees, and until when, without pairing again.',
  args: ['DEVICE_ID'],
  options: {
    data,
    camera: { type: 'string', value: 'NAME', multiple: true, help: 'it sees only these cameras from now on, live only (repeat it)' },
    all: { type: 'boolean', help: 'a viewer sees every camera again, and recordings (not for a guest)' },
    from: { type: 'string', value: 'TIME', help: 'it gets keys from then on: ISO 8601 or now+2h (default: as before)' },
    until: { type: 'string', value: 'TIME', help: 'then the hub removes it; \'none\' for no end (default: as before)' },
  },
  notes: 'Needs the hub running. A roster log entry every phone checks and new keys at once: a camera\n' +
    'taken away opens nothing new for the phone, a camera added reaches it from now on.',
};

export const DEVICES: CliGroup = { name: 'vigil devices', summary: 'Lists and revokes paired phones, and changes their cameras.', commands: [DEVICES_LIST, DEVICES_REVOKE, DEVICES_SCOPE] };

export const STATUS: CliCommand = {
  name: 'vigil status',
  summary: 'Prints the running hub\'s status as one JSON line: hub id, epoch, relay, LAN, phones online.',
  options: { data },
};

export const RECORD: CliCommand = {
  name: 'vigil record',
  summary: 'Sets what a camera records: continuous, events (from 5 s before to 10 s\nafter each detected event) or off, and for how many days recordings are kept.',
  options: {
    data,
    camera: { type: 'string', value: 'NAME', required: true, help: 'the camera (its name or id)' },
    mode: { type: 'string', value: 'continuous|events|off', required: true, help: 'continuous records around the clock; off records nothing' },
    'keep-days': { type: 'string', value: 'N', help: 'delete its recordings after N days, 1..3650 (default 7, or as set before)' },
  },
  notes: 'Recordings are sealed to the phones paired when they were made: the hub cannot play them back.\n' +
    'A running hub applies the change at once; otherwise it does when it starts.',
};

export const DETECT: CliCommand = {
  name: 'vigil detect',
  summary: 'Turns a camera\'s motion detection on or off, with its sensitivity, masks and zones.',
  options: {
    data,
    camera: { type: 'string', value: 'NAME', required: true, help: 'the camera (its name or id)' },
    motion: { type: 'string', value: 'on|off', required: true, help: 'detect motion on the hub (small pictures, 5 a second)' },
    sensitivity: { type: 'string', value: '1-10', help: '1 only big, clear motion .. 10 small changes\n(default 5, or as set before)' },
    mask: { type: 'string', value: 'x,y,w,h', multiple: true, help: 'a part of the picture never watched, in fractions\n(0,0,0.4,0.08: a strip at the top left); replaces the masks\nset before; `--mask none` clears them' },
    zone: { type: 'string', value: 'x,y,w,h', multiple: true, help: 'watch only these parts (events name them zone 1, zone 2, ...);\nreplaces the zones set before; `--zone none` watches it all' },
  },
  notes: 'A running hub applies the change within a second; otherwise it does when it starts.',
};

export const RECORDINGS: CliCommand = {
  name: 'vigil recordings',
  summary: 'Lists each camera\'s recordings: mode, keep days, bytes on disk, oldest and newest times.',
  options: { data, json },
};

export const EVENTS: CliCommand = {
  name: 'vigil events',
  summary: 'Lists events (motion, ...) the hub stored: camera, kind and times only.',
  options: {
    data,
    camera: { type: 'string', value: 'NAME', help: 'only this camera\'s events (its name or id)' },
    json: { type: 'boolean', help: 'one JSON object per event: id, camera, cameraId, kind, start, end\n(ISO 8601; end null while it goes on), sealed' },
  },
  notes: 'An event\'s picture, score and zones are sealed to the phones (like recordings): the hub cannot\nshow them. \'vigil-phone events\' and \'vigil-phone event-image\' open them on a phone.',
};

export const VERIFY_EXPORT: CliCommand = {
  name: 'vigil verify-export',
  summary: 'Checks an exported clip against its proof; prints hub, camera, times; non-zero if altered.',
  args: ['CLIP.mp4'],
  options: {
    proof: { type: 'string', value: 'FILE', help: 'the proof (default CLIP.mp4.proof)' },
    hub: { type: 'string', value: 'HUB_ID', help: 'fail unless this hub signed it (the id \'vigil status\' prints)' },
  },
  notes: 'Needs no data directory and no hub: the proof carries the hub\'s public signing key, whose\nhash must be the hub id it names. Exits 1 naming each altered segment (or a cut, or added\nbytes).',
};

export const ROSTER: CliCommand = {
  name: 'vigil roster',
  summary: 'Prints the roster log (phones added or removed, by whom, when) and its safety code.',
  options: { data, json },
  notes: 'Reads the store directly, with or without the hub running. Compare the safety code with the one\neach owner phone shows (vigil-phone roster): the same code means the same log.',
};

export const BACKUP: CliCommand = {
  name: 'vigil backup',
  summary: 'Prints a new recovery code (once) that opens the hub\'s backups kept by owner phones.',
  options: {
    data,
    'print-code': { type: 'boolean', help: 'make a new recovery code and print it, with its QR code, once; backups\nmade from now on open with it (and no longer with an earlier code)' },
  },
  notes: 'Owner phones keep the sealed backup (vigil-phone backup). Keep the code on paper, away from the\nhub: with the backup it brings the hub back on a new machine (vigil restore).',
};

export const BACKUP_STATUS: CliCommand = {
  name: 'vigil backup-status',
  summary: 'Says which recovery keys the hub\'s backups are sealed to (never a key).',
  options: { data, json: { type: 'boolean', help: 'one JSON object' } },
};

export const RESTORE: CliCommand = {
  name: 'vigil restore',
  summary: 'Brings the hub back in a new data directory: with the recovery code, or owner phones.',
  options: {
    data: { ...data, help: 'a new, empty data directory for the restored hub' },
    from: { type: 'string', value: 'FILE', help: 'the sealed backup (vigil-phone backup --out FILE on an owner phone);\nwith --from-phones, optional: else the first approving phone sends it' },
    code: { type: 'string', value: 'CODE', help: 'the recovery code vigil backup --print-code printed (VR1-...)' },
    'from-phones': {
      type: 'boolean',
      help: 'instead of a code: print a one-time restore invite (link and QR) for\nowner phones to approve (vigil-phone approve-restore); restores once k\nof them have',
    },
    relay: { type: 'string', value: 'URL', multiple: true, help: 'with --from-phones: the relay the phones reach this machine through\n(the one the hub used)' },
    wait: { type: 'string', value: 'SECONDS', help: 'with --from-phones: how long to wait for the approvals (default 600, at\nmost 3600)' },
    recordings: {
      type: 'string', value: 'FOLDER',
      help: 'the old hub\'s recordings folder, if it survived: its segments are copied\nin and indexed (default: DIR/recordings, if you copied it there)',
    },
  },
  notes: 'Then start the hub on DIR with the same --relay: paired phones reconnect without pairing again\nand each shows the restore as a roster alert. Recordings made before play on the phones that\ncould play them then. Put the old recordings in place before restoring: a hub start removes\nsegment files its index does not list.',
};

export const VIGIL_PROGRAM: CliProgram = {
  name: 'vigil',
  summary: 'The hub\'s command line.',
  commands: [RELAY_COMMAND, HUB, DISCOVER_COMMAND, CAMERA, INVITE, DEVICES, STATUS, RECORD, RECORDINGS, DETECT, EVENTS, ROSTER, BACKUP, BACKUP_STATUS, RESTORE, VERIFY_EXPORT],
  notes: 'Commands that change a running hub reach it through its local API on 127.0.0.1, with the token\nin DIR/api-token.',
};
