// `npm run bench:discovery`: how long discovery takes to find N cameras (N = 1 and 50), from the
// start of a discover() call to the first and to the last of the N found; the median of a few runs.
//
// Everything runs in a private network namespace this bench creates (lo up, multicast routed to lo)
// and deletes afterwards: no multicast ever reaches the machine's interfaces.
//  * ONVIF WS-Discovery: bench/lib/discovery-responder.ts simulates N cameras in one process, each
//    with its own socket on 3702 (SO_REUSEADDR, joined to 239.255.255.250), its own address
//    (127.0.1.i) and endpoint UUID, answering each Probe with a ProbeMatch. Measured twice: answering
//    at once (our own cost: sockets, Probe, parse, merge) and with the random 0..500 ms delay
//    WS-Discovery asks devices to wait before answering a multicast Probe (APP_MAX_DELAY), which
//    is what a real LAN looks like.
//  * mDNS: a real avahi-daemon (private config, no D-Bus, private mount namespace, as the tests use)
//    publishing N `_rtsp._tcp` services. They are N services of one host, so discover() merges them
//    into one device: the figure is per service found. Skipped if avahi-daemon is not installed.
// Discovery itself (bench/lib/discovery-child.ts) runs as a separate process in the namespace, the
// way `vigil discover` does, and stops each run as soon as all N are found. Needs root (namespaces);
// otherwise it prints why and exits 0. About 50 s.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, netnsSupport } from '../test/support/netns/netns.ts';
import { avahiAvailable, startAvahi } from '../test/support/netns/avahi.ts';
import { fixed, machineLine, median, pad, padLeft } from './lib/stats.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESPONDER = path.join(HERE, 'lib', 'discovery-responder.ts');
const CHILD = path.join(HERE, 'lib', 'discovery-child.ts');
const RUNS = Number(process.env.VIGIL_BENCH_DISCOVERY_RUNS ?? '7');
const COUNTS = [1, 50];
const BENCH_DEADLINE_MS = 150_000;
const AVAHI_SETTLE_MS = 6000;

interface RunFigures { first: number | null; last: number | null; found: number; devices: number; ms: number }
interface Row { source: string; n: number; runs: RunFigures[] }

const benchStart = Date.now();
function checkDeadline(): void {
  if (Date.now() - benchStart > BENCH_DEADLINE_MS) throw new Error(`bench over ${BENCH_DEADLINE_MS / 1000} s: stopping`);
}

async function runChild(ns: Netns, source: 'onvif' | 'mdns', n: number, seconds: number, gapMs: number): Promise<RunFigures[]> {
  const r = await ns.runTs(CHILD, ['--source', source, '--count', String(n), '--runs', String(RUNS), '--seconds', String(seconds), '--gap', String(gapMs)],
    { timeoutMs: 30_000 + RUNS * (seconds * 1000 + gapMs) });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`discovery child failed (${r.code}): ${r.stdout}${r.stderr}`);
  return (JSON.parse(line) as { runs: RunFigures[] }).runs;
}

async function onvifRow(n: number, jitterMs: number): Promise<Row> {
  checkDeadline();
  const ns = Netns.create('bdisc');
  try {
    const responder = ns.spawn(process.execPath, ['--import', 'tsx', RESPONDER, '--count', String(n), '--jitter-ms', String(jitterMs), '--run-seconds', '60']);
    await ns.waitFor(responder, '"event":"ready"', 15_000);
    const runs = await runChild(ns, 'onvif', n, 3, 200);
    return { source: jitterMs === 0 ? 'ONVIF WS-Discovery, answer at once' : `ONVIF WS-Discovery, 0..${jitterMs} ms delay`, n, runs };
  } finally {
    await ns.destroy();
  }
}

async function mdnsRow(n: number): Promise<Row> {
  checkDeadline();
  const ns = Netns.create('bmdns');
  try {
    const services = Array.from({ length: n }, (_, i) => ({ name: `SimCam ${i}`, type: '_rtsp._tcp', port: 8554, txt: [`path=/cam${i}`] }));
    await startAvahi(ns, services, 'simcam-bench');
    // startAvahi resolves once avahi logged every service as established (each bounded by 10 s).
    // Then let its start-up announcements pass (with 50 services they last over 3 s): while they go
    // on, avahi held back its answer to our first query until our re-query 1 s later (measured: cold
    // run 1.06 s after a 3 s wait, 0.14 s after 8 s), which times avahi's start-up, not a browse. A
    // camera on a real LAN has long been up when someone runs discovery.
    await new Promise((r) => setTimeout(r, AVAHI_SETTLE_MS));
    // An mDNS responder answers one question at most once a second (RFC 6762 § 6): runs 1.1 s apart.
    const runs = await runChild(ns, 'mdns', n, 4, 1100);
    return { source: 'mDNS (avahi-daemon, N services of one host)', n, runs };
  } finally {
    await ns.destroy();
  }
}

function report(rows: Row[]): void {
  console.log('');
  console.log(`${pad('source', 44)} ${padLeft('N', 3)} ${padLeft('first ms', 9)} ${padLeft('last ms', 9)} ${padLeft('cold last', 10)} ${padLeft('all N', 6)}  each run (first/last ms)`);
  for (const row of rows) {
    // A run that missed some of the N counts as infinitely slow for the median (shown as n/a if it decides it).
    const firsts = row.runs.map((r) => r.first ?? Number.POSITIVE_INFINITY);
    const lasts = row.runs.map((r) => r.last ?? Number.POSITIVE_INFINITY);
    const complete = row.runs.filter((r) => r.last !== null).length;
    const each = row.runs.map((r) => `${fixed(r.first ?? Number.NaN, 0)}/${r.last === null ? `${r.found}of${row.n}` : fixed(r.last, 0)}`).join(' ');
    const cold = row.runs[0]?.last;
    console.log(`${pad(row.source, 44)} ${padLeft(String(row.n), 3)} ${padLeft(fixed(median(firsts), 1), 9)} ${padLeft(fixed(median(lasts), 1), 9)} ` +
      `${padLeft(cold === null || cold === undefined ? 'missed' : fixed(cold, 1), 10)} ${padLeft(`${complete}/${row.runs.length}`, 6)}  ${each}`);
  }
  console.log('');
  console.log('first/last: median over runs of the time from calling discover() to the first and to the N-th device');
  console.log('found (its onFind callback). cold last: run 1, the first discover() in a fresh process, as `vigil discover`');
  console.log('always is. all N: runs that found all N within 3 s (ONVIF) / 4 s (mDNS). A run stops once all N are');
  console.log('found; `vigil discover` always listens its full --seconds (default 3 s) to hear late answers too.');
}

async function main(): Promise<void> {
  console.log('bench:discovery — time to find N simulated cameras inside a private network namespace');
  console.log(machineLine());
  const support = netnsSupport();
  if (!support.ok) {
    console.log(`SKIPPED: ${support.reason}. Run it as root (it creates a network namespace so multicast never leaves the machine).`);
    return;
  }
  const rows: Row[] = [];
  for (const jitter of [0, 500]) {
    for (const n of COUNTS) {
      const row = await onvifRow(n, jitter);
      rows.push(row);
      console.log(`  done: ${row.source}, N=${n}`);
    }
  }
  if (avahiAvailable()) {
    for (const n of COUNTS) {
      const row = await mdnsRow(n);
      rows.push(row);
      console.log(`  done: ${row.source}, N=${n}`);
    }
  } else {
    console.log('  mDNS: skipped (no /usr/sbin/avahi-daemon)');
  }
  report(rows);
  console.log(`total ${((Date.now() - benchStart) / 1000).toFixed(1)} s`);
}

await main();
