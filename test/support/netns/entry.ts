// Runs Vigil's discovery and ONVIF code inside a test namespace (spawned with `ip netns exec NS
// node --import tsx`), printing results as JSON on stdout:
//   discover ARGS...                      → what `vigil discover ARGS` prints
//   add --data DIR --from-discovery ID …  → `vigil camera add --from-discovery` (prints JSON {id,name,url})
//   snapshot --data DIR --camera ID       → {"bytes":N,"jpeg":true} or {"error":{code,message}}
//   ptz --data DIR --camera ID [--move P,T,Z --seconds S | --stop | --preset N]
import { parseArgs } from 'node:util';
import { cmdDiscover, cmdCameraAddFromDiscovery } from '../../../main/cli/discover.ts';
import { ptz, snapshot } from '../../../main/onvif/camera-control.ts';
import { openStore } from '../../../main/store/db.ts';

const [command, ...rest] = process.argv.slice(2);
function fail(e: unknown): void {
  const err = e as { code?: string; message?: string; name?: string };
  console.log(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message } }));
  process.exitCode = 1;
}
try {
  if (command === 'discover') {
    await cmdDiscover(rest);
  } else if (command === 'add') {
    const { values } = parseArgs({ args: rest, options: { data: { type: 'string' }, 'from-discovery': { type: 'string' }, user: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } } });
    const r = await cmdCameraAddFromDiscovery({
      dataDir: values.data!, id: values['from-discovery']!,
      ...(values.user !== undefined ? { user: values.user } : {}), ...(values.password !== undefined ? { password: values.password } : {}),
      ...(values.name !== undefined ? { name: values.name } : {}),
    }, { log: (l) => console.error(l), error: (l) => console.error(l) });
    console.log(JSON.stringify(r));
  } else if (command === 'snapshot' || command === 'ptz') {
    const { values } = parseArgs({ args: rest, options: { data: { type: 'string' }, camera: { type: 'string' }, move: { type: 'string' }, seconds: { type: 'string' }, stop: { type: 'boolean' }, preset: { type: 'string' } } });
    const store = openStore(values.data!);
    try {
      if (command === 'snapshot') {
        const jpeg = await snapshot(store, values.camera!, { timeoutMs: 5000 });
        console.log(JSON.stringify({ bytes: jpeg.byteLength, jpeg: jpeg[0] === 0xff && jpeg[1] === 0xd8 }));
      } else {
        const move = values.move?.split(',').map(Number) as [number, number, number] | undefined;
        const preset = values.preset === undefined ? undefined : /^\d+$/.test(values.preset) ? Number(values.preset) : values.preset;
        await ptz(store, values.camera!, {
          ...(move ? { move } : {}), ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
          ...(values.stop ? { stop: true } : {}), ...(preset !== undefined ? { preset } : {}),
        }, { timeoutMs: 5000 });
        console.log(JSON.stringify({ ok: true }));
      }
    } finally {
      store.close();
    }
  } else {
    throw new Error(`unknown command ${command}`);
  }
} catch (e) {
  fail(e);
}
