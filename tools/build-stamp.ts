// What a build was made from, so that a start can tell a current build from one that is missing or
// out of date (after a git pull, or an edit) without rebuilding. Every build writes
// DIR/.build-stamp.json: its output files, and each input file (esbuild's metafile, the files it
// copies, the build script) with its SHA-256. A build is current when every output exists and every
// input still has its hash. Content hashes, not times: a checkout that brings back an older file
// changes the hash too. Outputs are written whole and renamed into place, so a hub serving the folder
// while another process rebuilds it never reads half a file.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: stamps name inputs relative to it, so a copied checkout's stamps stay valid. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** A dot file: phone/app/serve.ts serves no dot file, so the stamp is not part of what it serves. */
export const STAMP_FILE = '.build-stamp.json';
const FORMAT = 'vigil-build-stamp-1';

export type BuildState = { state: 'current' } | { state: 'missing' | 'stale'; why: string };

interface Stamp {
  format: string;
  outputs: string[];
  inputs: Record<string, string>;
}

function sha256(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/** Writes `data` to `path` through a temporary file and a rename: readers see the old or the new file. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * The files an esbuild metafile names as inputs, as absolute paths. Keys are relative to esbuild's
 * working directory (`process.cwd()` unless the build set absWorkingDir); virtual modules such as
 * `(disabled):fs` and `<define:NAME>` are not files and are left out.
 */
export function metafileInputs(metafile: { inputs: Record<string, unknown> } | undefined, workingDir = process.cwd()): string[] {
  if (metafile === undefined) throw new Error('esbuild returned no metafile: build with metafile: true');
  return Object.keys(metafile.inputs).filter((k) => !/^(\(?[a-z-]+\)?:|<)/i.test(k)).map((k) => resolve(workingDir, k));
}

/** Records what the build in `dir` was made from (call it after the outputs are written). */
export function writeStamp(dir: string, inputs: Iterable<string>, outputs: string[], root = REPO_ROOT): void {
  const hashes: Record<string, string> = {};
  for (const file of [...new Set(inputs)].sort()) {
    const hash = sha256(file);
    if (hash === undefined) throw new Error(`build input ${file} cannot be read`);
    const rel = relative(root, file);
    hashes[rel.startsWith('..') || isAbsolute(rel) ? file : rel] = hash;
  }
  const stamp: Stamp = { format: FORMAT, outputs: [...outputs].sort(), inputs: hashes };
  writeAtomic(join(dir, STAMP_FILE), JSON.stringify(stamp, null, 1) + '\n');
}

/**
 * Whether the build in `dir` is current: its stamp is there, every output exists, no input changed.
 * `root`: the checkout whose sources the stamp names (this one unless checking another).
 */
export function buildState(dir: string, root = REPO_ROOT): BuildState {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(join(dir, STAMP_FILE), 'utf8')) as Stamp;
  } catch {
    return { state: 'missing', why: existsSync(dir) ? `${dir} has no ${STAMP_FILE}` : `${dir} does not exist` };
  }
  if (stamp.format !== FORMAT || !Array.isArray(stamp.outputs) || typeof stamp.inputs !== 'object' || stamp.inputs === null) {
    return { state: 'stale', why: `${join(dir, STAMP_FILE)} is not a stamp this version writes` };
  }
  for (const out of stamp.outputs) {
    if (!existsSync(join(dir, out))) return { state: 'missing', why: `${join(dir, out)} is missing` };
  }
  for (const [file, hash] of Object.entries(stamp.inputs)) {
    if (sha256(resolve(root, file)) !== hash) return { state: 'stale', why: `${file} changed since the build` };
  }
  return { state: 'current' };
}
