// The parent side of the recording fault tests: real fMP4 captured once from ffmpeg through
// native/ingest.ts, a data directory prepared as `vigil hub` + pairing leave it (hub identity, one
// phone, one camera recording continuously), the recording rig (recording-rig.ts) started and
// commanded (optionally in its own mount namespace on a small tmpfs), and a check of the data
// directory against what a phone opens in it: the index true to the files, every segment readable
// to its last whole chunk, and every segment key seen, to prove none is ever used twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { toHex, u32be, u64be } from '../../crypto/bytes.ts';
import { issueCertificate } from '../../crypto/certificate.ts';
import { deriveKey } from '../../crypto/hash.ts';
import {
  exportHubIdentity, hubPublicKeys, importHubIdentity, newDeviceIdentity, newHubIdentity,
  XWING_CIPHERTEXT_BYTES, type DeviceIdentity, type HubPublicKeys,
} from '../../crypto/identity.ts';
import { LABEL_SEGMENT_KEY } from '../../crypto/labels.ts';
import { SEGMENT_HEADER_BYTES, openEpochKey, openSegment, readSegmentHeader } from '../../crypto/recording.ts';
import type { Secret } from '../../crypto/secret.ts';
import { sodium } from '../../crypto/sodium.ts';
import { CameraIngest, type IngestFragment, type IngestInit } from '../../native/ingest.ts';
import { openStore } from '../../main/store/db.ts';
import { RecordingIndex } from '../../main/store/recordings.ts';
import type { CapturedStream, RigCommand } from './recording-rig.ts';
import { ROOT } from './system.ts';

/**
 * `seconds` of a 640x360 test pattern (a keyframe every `gop` frames at 15 fps) as ffmpeg's fMP4
 * init segment and fragments, split by native/ingest.ts exactly as the hub's ingest splits them.
 */
export async function captureStream(file: string, opts: { seconds: number; gop?: number }): Promise<CapturedStream> {
  const ingest = new CameraIngest({
    source: { kind: 'test-pattern', size: '640x360', fps: 15 }, label: 'capture',
    // Fragments of 300 ms (5 frames), not the hub's default of one frame: the rig is fed a count of
    // fragments, and the tests size what they record in these (60 fragments: about 20 s).
    fragmentMs: 300,
    args: { testPatternVideo: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', String(opts.gop ?? 15)] },
  });
  let init: IngestInit | undefined;
  const got: IngestFragment[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`captured ${got.length} fragments in ${opts.seconds + 30} s`)), (opts.seconds + 30) * 1000);
    ingest.on('init', (i) => (init ??= i));
    ingest.on('fragment', (f) => {
      if (init === undefined || (got.length === 0 && !f.keyframe)) return;
      got.push(f);
      if (got.length >= Math.ceil(opts.seconds / 0.3) && f.keyframe) {
        got.pop(); // end before a keyframe: the loop starts again at one
        clearTimeout(limit);
        resolve();
      }
    });
  });
  ingest.start();
  try {
    await done;
  } finally {
    await ingest.stop();
  }
  const ms = (i: number): number => {
    const [a, b] = [got[i]!, got[i + 1]];
    if (b?.decodeTime !== undefined && a.decodeTime !== undefined && a.timescale) return Math.round(((b.decodeTime - a.decodeTime) / a.timescale) * 1000);
    return 333;
  };
  const stream: CapturedStream = {
    init: { data: Buffer.from(init!.data).toString('base64'), codecs: init!.codecs, mime: init!.mime },
    fragments: got.map((f, i) => ({ data: Buffer.from(f.data).toString('base64'), keyframe: f.keyframe, ms: Math.max(1, ms(i)) })),
  };
  writeFileSync(file, JSON.stringify(stream));
  return stream;
}

export interface PreparedHub {
  readonly phone: DeviceIdentity;
  readonly hub: HubPublicKeys;
  readonly cameraId: string;
}

/** A data directory with the hub's identity, one owner phone enrolled and one camera recording continuously. */
export function prepareHub(dataDir: string): PreparedHub {
  const store = openStore(dataDir);
  try {
    const identity = importHubIdentity(store.getOrCreateHubIdentity(() => exportHubIdentity(newHubIdentity())));
    const phone = newDeviceIdentity();
    store.addDevice({
      name: 'Owner', certificate: issueCertificate(identity, {
        deviceId: phone.deviceId, signingKey: phone.signing.publicKey, exchangeKey: phone.exchange.publicKey, pqKey: phone.pq.publicKey,
        relayKey: sodium().randombytes_buf(32),
      }, 'owner', Date.now()),
    });
    const camera = store.addCamera({ name: 'Porch', url: 'test-pattern:', kind: 'test-pattern' });
    new RecordingIndex(store).setSettings(camera.id, 'continuous', 3);
    return { phone, hub: hubPublicKeys(identity), cameraId: camera.id };
  } finally {
    store.close();
  }
}

/**
 * The rig as one ES module in `dir` (its packages from the repository's node_modules): the same
 * code, compiled once, so that a start costs about 0.2 s instead of tsx's 0.7 s.
 */
export async function bundleRig(dir: string): Promise<string> {
  const out = join(dir, 'recording-rig.mjs');
  await build({
    entryPoints: [join(ROOT, 'test/support/recording-rig.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', logLevel: 'warning',
  });
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return out;
}

export interface RigProcess {
  readonly child: ChildProcess;
  /** The first line: the rig recovered the data directory and records. */
  readonly ready: Promise<Record<string, unknown>>;
  /** Sends a command; resolves with its answer line. */
  send(c: RigCommand): Promise<Record<string, unknown>>;
  /** The rig's data directory as this process sees it (through /proc/PID/root in a mount namespace). */
  readonly path: (inside: string) => string;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/**
 * Starts the rig on `dataDir`. With `tmpfs`, in a mount namespace of its own: a tmpfs of that many
 * bytes is mounted on `mount` inside it (nothing outside sees it), `prepared` copied in, and the
 * rig records there. Killed after `maxMs` whatever happens.
 */
export function startRig(
  bundle: string, dataDir: string, fragmentsFile: string,
  opts: { quotaBytes?: number; tmpfs?: { bytes: number; mount: string; prepared: string }; maxMs?: number; env?: NodeJS.ProcessEnv } = {},
): RigProcess {
  const args = [dataDir, fragmentsFile, ...(opts.quotaBytes !== undefined ? [String(opts.quotaBytes)] : [])];
  const env = { ...process.env, ...opts.env };
  const child = opts.tmpfs === undefined
    ? spawn(process.execPath, [bundle, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      'mount -t tmpfs -o "size=$1,mode=0700" vigil-rec "$2" && cp -a "$3/." "$2/" && shift 3 && exec "$@"',
      'sh', String(opts.tmpfs.bytes), opts.tmpfs.mount, opts.tmpfs.prepared, process.execPath, bundle, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const limit = setTimeout(() => child.kill('SIGKILL'), opts.maxMs ?? 120_000);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => {
    clearTimeout(limit);
    r(code);
  }));
  const waiting: ((o: Record<string, unknown>) => void)[] = [];
  let readyResolve!: (o: Record<string, unknown>) => void;
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    readyResolve = resolve;
    void exited.then((code) => reject(new Error(`the rig exited (${code}) before it was ready: ${err}`)));
  });
  ready.catch(() => undefined);
  let first = true;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (first) {
      first = false;
      readyResolve(o);
    } else {
      waiting.shift()?.(o);
    }
  });
  return {
    child, ready, exited,
    stderr: () => err,
    send: (c) => new Promise((resolve, reject) => {
      waiting.push(resolve);
      void exited.then((code) => reject(new Error(`the rig exited (${code}) during ${c.cmd}: ${err}`)));
      child.stdin!.write(`${JSON.stringify(c)}\n`);
    }),
    path: (inside) => (opts.tmpfs === undefined ? inside : join(`/proc/${child.pid}/root`, inside)),
  };
}

export interface SegmentSeen {
  readonly id: number;
  readonly bytes: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly closed: boolean;
  readonly chunks: number;
  /** Hex of the segment's own key (unwrapped as a phone does) and of its X-Wing ciphertext. */
  readonly key: string;
  readonly kem: string;
}

/** What the checks have seen so far: every segment key and id, across restarts. */
export class KeyLedger {
  readonly keys = new Map<string, number>();
  readonly kems = new Map<string, number>();
  readonly seeds = new Map<number, Secret>();
  /** Segments already opened at this size (a closed one is not opened again). */
  readonly opened = new Map<number, SegmentSeen>();
  reused: string[] = [];

  note(s: SegmentSeen): void {
    const byKey = this.keys.get(s.key);
    if (byKey !== undefined && byKey !== s.id) this.reused.push(`segment ${s.id} has the key of segment ${byKey}`);
    const byKem = this.kems.get(s.kem);
    if (byKem !== undefined && byKem !== s.id) this.reused.push(`segment ${s.id} has the X-Wing ciphertext of segment ${byKem}`);
    this.keys.set(s.key, s.id);
    this.kems.set(s.kem, s.id);
  }
}

/** The segment's own key, unwrapped from its header with the epoch's seed (what openSegment does inside). */
function segmentKey(bytes: Uint8Array, seed: Secret): Uint8Array {
  const s = sodium();
  const h = readSegmentHeader(bytes);
  const ct = bytes.subarray(SEGMENT_HEADER_BYTES - 48 - XWING_CIPHERTEXT_BYTES, SEGMENT_HEADER_BYTES - 48);
  const wrapped = bytes.subarray(SEGMENT_HEADER_BYTES - 48, SEGMENT_HEADER_BYTES);
  const { privateKey } = s.crypto_kem_xwing_seed_keypair(seed.expose());
  const ss = s.crypto_kem_xwing_dec(ct, privateKey);
  privateKey.fill(0);
  const kw = deriveKey(ss, LABEL_SEGMENT_KEY, 32, ct, h.hubId, h.cameraId, u32be(h.epoch), u64be(h.segmentId));
  return s.crypto_aead_chacha20poly1305_ietf_decrypt(null, wrapped, null, new Uint8Array(12), kw);
}

export interface IndexRow {
  id: number;
  camera_id: string;
  epoch: number;
  start_ms: number;
  end_ms: number;
  bytes: number;
  path: string;
  closed: number;
}

/**
 * The data directory as a phone finds it: every index row has its file at its size and every file
 * its row; every segment opens with this phone's sealed seed of its epoch, undamaged, to its last
 * whole chunk, with its proof exactly when the row says closed; times within the row's. `writing`:
 * the newest segment is being written (its file may be longer than its row says). Returns the
 * problems found (empty: all true) and the rows.
 */
export function checkRecordings(dataDir: string, prepared: PreparedHub, ledger: KeyLedger, opts: { writing?: boolean } = {}): { problems: string[]; rows: IndexRow[] } {
  const problems: string[] = [];
  const db = new Database(join(dataDir, 'hub.db'), { readonly: true, fileMustExist: true });
  let rows: IndexRow[];
  let sealed: { epoch: number; sealed: Buffer }[];
  try {
    rows = db.prepare<[], IndexRow>('SELECT * FROM segments ORDER BY id').all();
    sealed = db.prepare<[string], { epoch: number; sealed: Buffer }>('SELECT epoch, sealed FROM recording_keys WHERE device_id = ?').all(toHex(prepared.phone.deviceId));
  } finally {
    db.close();
  }
  for (const k of sealed) {
    if (!ledger.seeds.has(k.epoch)) ledger.seeds.set(k.epoch, openEpochKey(new Uint8Array(k.sealed), prepared.phone, prepared.hub.hubId).seed);
  }
  // The segment being written (the newest, while the recorder records): its row is updated as it closes.
  const openRow = opts.writing === true ? rows.at(-1)?.id : undefined;
  const dir = join(dataDir, 'recordings', prepared.cameraId);
  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  const expected = rows.map((r) => `${r.id}.vseg`).sort();
  if (JSON.stringify(files) !== JSON.stringify(expected)) problems.push(`files ${files.join(',')} but rows ${expected.join(',')}`);
  for (const row of rows) {
    const path = join(dataDir, row.path);
    if (!existsSync(path)) continue;
    const size = statSync(path).size;
    if (row.id === openRow ? size < row.bytes : size !== row.bytes) problems.push(`segment ${row.id}: ${size} bytes on disk, ${row.bytes} in the index`);
    const before = ledger.opened.get(row.id);
    if (before !== undefined && before.bytes === size && before.closed === (row.closed === 1)) continue;
    const bytes = readFileSync(path);
    const seed = ledger.seeds.get(row.epoch);
    if (seed === undefined) {
      problems.push(`segment ${row.id}: no key of epoch ${row.epoch}`);
      continue;
    }
    const s = openSegment(bytes, seed, prepared.hub);
    const where = `segment ${row.id}`;
    if (s.damaged !== undefined) problems.push(`${where}: ${s.damaged}`);
    if ((s.proof !== undefined) !== (row.closed === 1)) problems.push(`${where}: proof ${s.proof !== undefined}, closed ${row.closed}`);
    if (s.chunks[0]?.kind !== 'init' || s.chunks.length < 2) problems.push(`${where}: ${s.chunks.length} chunks, first ${s.chunks[0]?.kind}`);
    if (Number(s.header.segmentId) !== row.id || s.header.start !== row.start_ms) problems.push(`${where}: header says segment ${s.header.segmentId} from ${s.header.start}`);
    const last = s.chunks.at(-1)?.time ?? 0;
    if (row.id !== openRow && (last > row.end_ms || (s.proof ? s.proof.end !== row.end_ms : last !== row.end_ms))) {
      problems.push(`${where}: ends at ${s.proof?.end ?? last}, the index says ${row.end_ms}`);
    }
    for (let i = 1; i < s.chunks.length; i++) if (s.chunks[i]!.time < s.chunks[i - 1]!.time) problems.push(`${where}: chunk ${i} goes back in time`);
    const key = segmentKey(bytes, seed);
    const seen: SegmentSeen = {
      id: row.id, bytes: size, startMs: row.start_ms, endMs: row.end_ms, closed: row.closed === 1, chunks: s.chunks.length,
      key: toHex(key), kem: toHex(bytes.subarray(SEGMENT_HEADER_BYTES - 48 - XWING_CIPHERTEXT_BYTES, SEGMENT_HEADER_BYTES - 48)),
    };
    key.fill(0);
    ledger.opened.set(row.id, seen);
    ledger.note(seen);
  }
  return { problems, rows };
}
