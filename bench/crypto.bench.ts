// npm run bench:crypto — throughput and cost of Vigil's crypto, in one run, next to its baselines:
//   1. frame envelope (crypto/frame.ts) seal and open for 1 KiB, 16 KiB and 256 KiB fragments, with
//      each of its AEADs: the libsodium default (WebAssembly; what phones in browsers use) and the
//      hub's node:crypto one (main/node-aead.ts), against node:crypto's chacha20-poly1305 (OpenSSL)
//      called alone on the same sizes with a same-sized AAD;
//   2. the session handshake (crypto/session.ts: Noise IKpsk2 + X-Wing) against a plain Noise
//      IKpsk2 handshake with a fixed PSK (crypto/noise.ts), i.e. what X-Wing adds;
//   3. Ed25519 sign and verify (crypto/identity.ts);
//   4. the target: sealing 16 cameras at 4 Mbit/s costs under 2% of one core, on the hub's sealer.
// Every figure is the median of several runs after a warm-up; variants are measured round-robin so
// a burst of load from another process hits all of them alike. MB = 10^6 bytes. Exits 0: a report.
import { createCipheriv, createDecipheriv, randomBytes, type CipherChaCha20Poly1305, type DecipherChaCha20Poly1305 } from 'node:crypto';
import { FrameOpener, FrameSealer, type FrameCryptoOptions, type FrameKeyParams } from '../crypto/frame.ts';
import { nodeFrameAead } from '../main/node-aead.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, newSigningKeyPair, sign, verify } from '../crypto/identity.ts';
import { createHandshake } from '../crypto/noise.ts';
import { acceptSession, sessionPrologue, startSession } from '../crypto/session.ts';
import { cryptoReady, sodium } from '../crypto/sodium.ts';
import { fixed, machineLine, median, nowMs, pad, padLeft, spread, verdict } from './lib/stats.ts';

const RUNS = 7;
/** Wall time of one timed run of one throughput variant. */
const RUN_MS = 150;
const SIZES = [1024, 16 * 1024, 256 * 1024] as const;
/** Target: 16 cameras at 4 Mbit/s sealed in under 2% of one core. */
const TARGET_BYTES_PER_S = (16 * 4e6) / 8;
const TARGET_CORE_SHARE = 0.02;
/** What the node:crypto baseline authenticates besides the payload: Vigil's header and metadata. */
const AAD_BYTES = 2 + 44;

let sink = 0; // keeps results observable so nothing is optimised away

/** Random bytes as a plain Uint8Array. A Node Buffer would not do: Buffer#slice is a view, not a
 * copy, so code that copies its input with .slice() would share (and may wipe) the caller's bytes. */
function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function frameParams(): FrameKeyParams {
  // A fresh random key per sealer: FrameSealer refuses a second sealer for a key (nonce reuse).
  return { hubId: random(16), cameraId: random(16), cameraNumber: 1, epoch: 1, key: random(32) };
}

function nonceFor(counter: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(counter, 8);
  return nonce;
}

interface Variant {
  readonly name: string;
  readonly size: number;
  /** One timed run; returns MB/s. */
  run(): number;
  readonly results: number[];
}

// Figures are per CPU second of this process (getrusage), not per wall second: on a shared 2-core
// machine a run may be descheduled, and CPU time is also what "% of one core" means. The share of
// wall time the process got is reported, as a measure of how loaded the machine was.
let wallMsTotal = 0;
let cpuMsTotal = 0;

/** Runs `body`; returns the CPU milliseconds it took. */
function cpuMs(body: () => void): number {
  const wall = nowMs();
  const c0 = process.cpuUsage();
  body();
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000;
  wallMsTotal += nowMs() - wall;
  cpuMsTotal += cpu;
  return cpu;
}

/** Calls `op` until `ms` of wall time passed; returns MB per CPU second for `bytes` per call. */
function timeLoop(ms: number, bytes: number, op: () => void): number {
  let n = 0;
  const cpu = cpuMs(() => {
    const start = nowMs();
    do {
      for (let i = 0; i < 8; i++) op();
      n += 8;
    } while (nowMs() - start < ms);
  });
  return (n * bytes) / 1e6 / (cpu / 1000);
}

/** Times one pass over a prepared batch; returns MB per CPU second. */
function timeBatch(count: number, bytes: number, op: (i: number) => void): number {
  const cpu = cpuMs(() => {
    for (let i = 0; i < count; i++) op(i);
  });
  return (count * bytes) / 1e6 / (cpu / 1000);
}

/** 'vigil': crypto/frame.ts with its libsodium default (phones); 'hub': with node:crypto's AEAD. */
const AEADS: Record<'vigil' | 'hub', FrameCryptoOptions> = { vigil: {}, hub: { aead: nodeFrameAead } };

function frameVariants(size: number, batch: number, which: keyof typeof AEADS): Variant[] {
  const options = AEADS[which];
  const payload = randomBytes(size);
  const seal: Variant = {
    name: `${which} seal`, size, results: [],
    run() {
      const sealer = new FrameSealer(frameParams(), options);
      const mbps = timeLoop(RUN_MS, size, () => {
        sink ^= sealer.seal({ track: 'video', captureTime: 1_700_000_000_000, frameType: 'delta', payload }).length;
      });
      sealer.close();
      return mbps;
    },
  };
  // Opening needs frames nobody opened yet (the replay window refuses a counter twice): seal a batch
  // once, then give every run a fresh opener with the same key.
  const params = frameParams();
  const sealer = new FrameSealer(params, options);
  const sealed = Array.from({ length: batch }, () => sealer.seal({ track: 'video', captureTime: 1_700_000_000_000, frameType: 'delta', payload }));
  sealer.close();
  const open: Variant = {
    name: `${which} open`, size, results: [],
    run() {
      const opener = new FrameOpener(options);
      opener.addKey(params);
      return timeBatch(batch, size, (i) => {
        sink ^= opener.open(sealed[i]!).payload.length;
      });
    },
  };
  return [seal, open];
}

function nodeVariants(size: number, batch: number): Variant[] {
  const payload = randomBytes(size);
  const aad = randomBytes(AAD_BYTES);
  const key = randomBytes(32);
  const encrypt = (counter: number): { ct: Buffer; tag: Buffer } => {
    const c = createCipheriv('chacha20-poly1305', key, nonceFor(counter), { authTagLength: 16 }) as CipherChaCha20Poly1305;
    c.setAAD(aad, { plaintextLength: size });
    const ct = c.update(payload);
    c.final();
    return { ct, tag: c.getAuthTag() };
  };
  let counter = 0;
  const seal: Variant = {
    name: 'node seal', size, results: [],
    run: () => timeLoop(RUN_MS, size, () => {
      sink ^= encrypt(counter++).ct.length;
    }),
  };
  const sealed = Array.from({ length: batch }, (_, i) => encrypt(i));
  const open: Variant = {
    name: 'node open', size, results: [],
    run: () => timeBatch(batch, size, (i) => {
      const { ct, tag } = sealed[i]!;
      const d = createDecipheriv('chacha20-poly1305', key, nonceFor(i), { authTagLength: 16 }) as DecipherChaCha20Poly1305;
      d.setAAD(aad, { plaintextLength: size });
      d.setAuthTag(tag);
      sink ^= d.update(ct).length;
      d.final();
    }),
  };
  return [seal, open];
}

/** libsodium-wrappers' AEAD alone, as frame.ts calls it: shows what the envelope adds to its primitive. */
function sodiumVariant(size: number): Variant {
  const payload = random(size);
  const aad = random(AAD_BYTES);
  const key = random(32);
  let counter = 0;
  return {
    name: 'sodium seal', size, results: [],
    run: () => timeLoop(RUN_MS, size, () => {
      sink ^= sodium().crypto_aead_chacha20poly1305_ietf_encrypt(payload, aad, null, nonceFor(counter++), key).length;
    }),
  };
}

/** How many frames of `size` one RUN_MS opening pass needs, from a quick seal measurement. */
function batchFor(size: number): number {
  const sealer = new FrameSealer(frameParams());
  const payload = randomBytes(size);
  const mbps = timeLoop(50, size, () => {
    sink ^= sealer.seal({ track: 'video', captureTime: 0, frameType: 'delta', payload }).length;
  });
  sealer.close();
  return Math.max(64, Math.ceil((mbps * 1e6 * (RUN_MS / 1000)) / size));
}

function throughput(): Map<string, Variant> {
  const variants: Variant[] = [];
  for (const size of SIZES) {
    const batch = batchFor(size);
    variants.push(...frameVariants(size, batch, 'hub'), ...frameVariants(size, batch, 'vigil'), ...nodeVariants(size, batch), sodiumVariant(size));
  }
  for (const v of variants) v.run(); // warm-up: JIT, WebAssembly tiers, allocator
  for (let r = 0; r < RUNS; r++) for (const v of variants) v.results.push(v.run());
  return new Map(variants.map((v) => [`${v.name} ${v.size}`, v]));
}

interface PerOp {
  readonly count: number;
  readonly op: () => void;
}

/**
 * Median per-operation time in µs of each job over RUNS runs of `count` operations, after one
 * warm-up run; the jobs' runs alternate, so load from elsewhere hits them alike.
 */
function perOp(...jobs: PerOp[]): { us: number; spread: number }[] {
  const run = ({ count, op }: PerOp): number => {
    const cpu = cpuMs(() => {
      for (let i = 0; i < count; i++) op();
    });
    return (cpu * 1000) / count;
  };
  for (const job of jobs) run(job);
  const results = jobs.map((): number[] => []);
  for (let r = 0; r < RUNS; r++) jobs.forEach((job, i) => results[i]!.push(run(job)));
  return results.map((rs) => ({ us: median(rs), spread: spread(rs) }));
}

function handshakes(): { session: { us: number; spread: number }; plain: { us: number; spread: number } } {
  const hub = newHubIdentity();
  const hubKeys = hubPublicKeys(hub);
  const device = newDeviceIdentity();
  const session: PerOp = { count: 40, op: () => {
    const started = startSession({ device, hub: hubKeys });
    const accepted = acceptSession({ hub, message1: started.message1, lookupDevice: () => true });
    const { message2, session: hubSide } = accepted.respond();
    const { session: phoneSide } = started.finish(message2);
    sink ^= hubSide.nextSequence === phoneSide.nextSequence ? 1 : 0;
  } };
  // The same pattern and suite with the PSK fixed up front: the session minus X-Wing (and minus the
  // hub's X-Wing key expansion), so the difference is what post-quantum protection costs.
  const psk = random(32);
  const prologue = sessionPrologue(hub.hubId);
  const plain: PerOp = { count: 60, op: () => {
    const initiator = createHandshake({ pattern: 'IKpsk2', initiator: true, prologue, staticKeyPair: device.exchange, remoteStatic: hub.exchange.publicKey, psk });
    const responder = createHandshake({ pattern: 'IKpsk2', initiator: false, prologue, staticKeyPair: hub.exchange, psk });
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)));
    const a = initiator.split();
    const b = responder.split();
    sink ^= a.send === b.receive ? 1 : 0;
  } };
  const [s, p] = perOp(session, plain);
  return { session: s!, plain: p! };
}

function signatures(): { sign: { us: number; spread: number }; verify: { us: number; spread: number } } {
  const pair = newSigningKeyPair('bench signing key');
  const message = randomBytes(200); // about a signed command or key update header
  const signature = sign(pair, message);
  const [s, v] = perOp(
    { count: 500, op: () => {
      sink ^= sign(pair, message)[0]!;
    } },
    { count: 500, op: () => {
      sink ^= verify(pair.publicKey, message, signature) ? 1 : 0;
    } },
  );
  return { sign: s!, verify: v! };
}

async function main(): Promise<void> {
  const started = nowMs();
  await cryptoReady();
  console.log('vigil bench:crypto');
  console.log(machineLine());
  console.log(`method: median of ${RUNS} runs (~${RUN_MS} ms each) after a warm-up, variants round-robin; times are CPU time of this process ` +
    '(MB per CPU second, µs of CPU per operation); MB = 10^6 bytes; spread = (max-min)/median');
  console.log('');

  const t = throughput();
  const get = (name: string, size: number): Variant => t.get(`${name} ${size}`)!;
  console.log('frame envelope (crypto/frame.ts) with the hub\'s AEAD (node:crypto) and the default (libsodium), vs node:crypto chacha20-poly1305 alone, same payload and AAD size');
  console.log(`${pad('fragment', 10)}${padLeft('hub seal', 12)}${padLeft('vigil seal', 12)}${padLeft('node seal', 12)}${padLeft('ratio', 7)}` +
    `${padLeft('hub open', 12)}${padLeft('vigil open', 12)}${padLeft('node open', 12)}${padLeft('ratio', 7)}${padLeft('sodium seal', 13)}   spread (hub seal, vigil seal/open)`);
  for (const size of SIZES) {
    const hs = median(get('hub seal', size).results);
    const vs = median(get('vigil seal', size).results);
    const ns = median(get('node seal', size).results);
    const ho = median(get('hub open', size).results);
    const vo = median(get('vigil open', size).results);
    const no = median(get('node open', size).results);
    const mbps = (v: number, w: number): string => padLeft(`${fixed(v, 0)} MB/s`, w);
    console.log(
      `${pad(`${size / 1024} KiB`, 10)}${mbps(hs, 12)}${mbps(vs, 12)}${mbps(ns, 12)}${padLeft(fixed(hs / ns, 2), 7)}` +
      `${mbps(ho, 12)}${mbps(vo, 12)}${mbps(no, 12)}${padLeft(fixed(ho / no, 2), 7)}${mbps(median(get('sodium seal', size).results), 13)}` +
      `   ${fixed(spread(get('hub seal', size).results) * 100, 0)}%, ${fixed(spread(get('vigil seal', size).results) * 100, 0)}% / ${fixed(spread(get('vigil open', size).results) * 100, 0)}%`,
    );
  }
  console.log('hub = frame.ts with main/node-aead.ts (what the hub seals with); vigil = frame.ts with its libsodium default (what phones open with);');
  console.log('ratio = hub / node:crypto alone (what the envelope costs); sodium seal = libsodium-wrappers crypto_aead_chacha20poly1305_ietf_encrypt alone');
  console.log('');

  const hs = handshakes();
  console.log('handshakes (both sides, one process)');
  console.log(`  session: Noise IKpsk2 + X-Wing (startSession/acceptSession/respond/finish)  ${fixed(hs.session.us / 1000, 2)} ms  (spread ${fixed(hs.session.spread * 100, 0)}%)`);
  console.log(`  plain Noise IKpsk2, fixed PSK (crypto/noise.ts createHandshake)            ${fixed(hs.plain.us / 1000, 2)} ms  (spread ${fixed(hs.plain.spread * 100, 0)}%)`);
  console.log(`  X-Wing adds ${fixed((hs.session.us - hs.plain.us) / 1000, 2)} ms (${fixed(hs.session.us / hs.plain.us, 1)}x the plain handshake)`);
  console.log('');

  const sig = signatures();
  console.log('Ed25519 (crypto/identity.ts), 200-byte message');
  console.log(`  sign    ${fixed(sig.sign.us, 1)} µs  (spread ${fixed(sig.sign.spread * 100, 0)}%)`);
  console.log(`  verify  ${fixed(sig.verify.us, 1)} µs  (spread ${fixed(sig.verify.spread * 100, 0)}%)`);
  console.log('');

  const seal16 = median(get('hub seal', 16 * 1024).results);
  const share = TARGET_BYTES_PER_S / 1e6 / seal16;
  const sodiumShare = TARGET_BYTES_PER_S / 1e6 / median(get('vigil seal', 16 * 1024).results);
  console.log('target: sealing 16 cameras at 4 Mbit/s (8 MB/s) in under 2% of one core (the hub\'s sealer)');
  console.log(`  cost = 8 MB/s / ${fixed(seal16, 0)} MB/s (16 KiB hub seal) = ${fixed(share * 100, 2)}% of one core  ` +
    `(${fixed(share / TARGET_CORE_SHARE, 2)}x the budget)  ${verdict(share < TARGET_CORE_SHARE)}`);
  console.log(`  (with the libsodium default it would be ${fixed(sodiumShare * 100, 2)}%)`);
  console.log('');
  console.log(`machine load: this process was on a CPU ${fixed((cpuMsTotal / wallMsTotal) * 100, 0)}% of the timed wall time ` +
    '(near 100% = figures undisturbed; much less = another process competed for the core)');
  console.log(`done in ${fixed((nowMs() - started) / 1000, 1)} s${sink === 0.5 ? '' : ''}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
