// Builds what the source tree serves but does not hold: the hub UI (renderer/dist), the phone app
// (phone/app/dist) and the Electron entry (dist/electron). Both, so that the README's commands are
// the whole set-up:
// - at install: npm runs `prepare` (this script, every part) after `npm ci` and `npm install`;
// - at start: `vigil hub --ui`, `npm run demo` and `npm run electron` call ensureBuilt(), which
//   rebuilds a part only when its build is missing or its sources changed since (a git pull, an
//   edit), so a pull and a restart serve the new code. Checking costs a few milliseconds of hashing.
//
//   node --import tsx tools/build.ts [--if-stale] [renderer] [phone-app] [electron]
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildState, REPO_ROOT } from './build-stamp.ts';

export type Part = 'renderer' | 'phone-app' | 'electron';

const PARTS: Record<Part, { what: string; dir: string; build: () => Promise<unknown> }> = {
  renderer: {
    what: 'the hub UI',
    dir: join(REPO_ROOT, 'renderer', 'dist'),
    build: async () => (await import('../renderer/build.ts')).buildRenderer(),
  },
  'phone-app': {
    what: 'the phone app',
    dir: join(REPO_ROOT, 'phone', 'app', 'dist'),
    build: async () => (await import('../phone/app/build.ts')).buildApp(),
  },
  electron: {
    what: 'the Electron entry',
    dir: join(REPO_ROOT, 'dist', 'electron'),
    build: async () => (await import('../main/electron/build.ts')).buildElectron(),
  },
};
export const ALL_PARTS = Object.keys(PARTS) as Part[];

/** Builds each part whose build is missing or out of date; says which and why through `log`. */
export async function ensureBuilt(parts: readonly Part[], log: (line: string) => void = () => undefined): Promise<Part[]> {
  const built: Part[] = [];
  for (const part of parts) {
    const s = buildState(PARTS[part].dir);
    if (s.state === 'current') continue;
    const started = Date.now();
    await PARTS[part].build();
    log(`built ${PARTS[part].what} in ${Date.now() - started} ms (${s.why})`);
    built.push(part);
  }
  return built;
}

/** Builds every given part, current or not. */
export async function buildAll(parts: readonly Part[] = ALL_PARTS, log: (line: string) => void = () => undefined): Promise<void> {
  for (const part of parts) {
    const started = Date.now();
    await PARTS[part].build();
    log(`built ${PARTS[part].what} in ${Date.now() - started} ms: ${PARTS[part].dir}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  const usage = `usage: node --import tsx tools/build.ts [--if-stale] [${ALL_PARTS.join('] [')}]  (default: every part)`;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const unknown = positionals.filter((p) => !(p in PARTS));
  if (unknown.length > 0) {
    console.error(`unknown part ${unknown.join(', ')}\n${usage}`);
    process.exit(2);
  }
  const parts = positionals.length > 0 ? (positionals as Part[]) : ALL_PARTS;
  const log = (line: string) => console.log(`vigil: ${line}`);
  if (values['if-stale']) await ensureBuilt(parts, log);
  else await buildAll(parts, log);
}
