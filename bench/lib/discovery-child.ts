// Runs the project's discovery (main/discovery discover()) inside the bench's namespace and times
// it; started by bench/discovery.bench.ts with `ip netns exec NS node --import tsx`:
//   node --import tsx bench/lib/discovery-child.ts --source onvif|mdns --count N --runs R [--seconds S]
// Each run is one discover() call with only that source on; its onFind callback stamps each device
// (ONVIF endpoint, or mDNS service) found, and the run is aborted (AbortSignal) as soon as N are found,
// else it lasts --seconds. Times are from just before discover() is called (so opening the sockets
// and sending the Probe/query are included) to the first and to the N-th find.
// Prints one JSON line: {"runs":[{"first":ms,"last":ms,"found":n,"devices":n,"ms":ms}, ...]}.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { discover } from '../../main/discovery/discover.ts';

const { values } = parseArgs({ options: { source: { type: 'string' }, count: { type: 'string' }, runs: { type: 'string' }, seconds: { type: 'string' }, gap: { type: 'string' } } });
const source = values.source;
const count = Number(values.count ?? '1');
const runs = Number(values.runs ?? '5');
const seconds = Number(values.seconds ?? '5');
const gapMs = Number(values.gap ?? '300');
if (source !== 'onvif' && source !== 'mdns') throw new Error('--source must be onvif or mdns');
if (!(Number.isInteger(count) && count >= 1 && count <= 250)) throw new Error('--count must be 1..250');
if (!(Number.isInteger(runs) && runs >= 1 && runs <= 20)) throw new Error('--runs must be 1..20');
if (!(seconds > 0 && seconds <= 10)) throw new Error('--seconds must be in (0, 10]');
if (!(gapMs >= 0 && gapMs <= 5000)) throw new Error('--gap must be 0..5000');

interface RunFigures { first: number | null; last: number | null; found: number; devices: number; ms: number }

async function once(): Promise<RunFigures> {
  const stamps: number[] = [];
  const abort = new AbortController();
  let t0 = 0;
  const onFind = () => {
    stamps.push(performance.now() - t0);
    if (stamps.length >= count) abort.abort();
  };
  t0 = performance.now();
  const report = await discover({
    seconds,
    signal: abort.signal,
    onvif: source === 'onvif' ? { onFind } : false,
    mdns: source === 'mdns' ? { onFind } : false,
  });
  const ms = performance.now() - t0;
  return {
    first: stamps[0] ?? null,
    last: stamps.length >= count ? stamps[count - 1]! : null,
    found: stamps.length,
    devices: report.devices.length,
    ms,
  };
}

const out: RunFigures[] = [];
for (let i = 0; i < runs; i++) {
  out.push(await once());
  await new Promise((r) => setTimeout(r, gapMs));
}
console.log(JSON.stringify({ runs: out }));
