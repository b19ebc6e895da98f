// Finds the shared external test vectors (Wycheproof, cacophony, RFC 9605 SFrame). They live next
// to the repository in `../shared/vectors` and are never copied in; `VIGIL_VECTORS` points elsewhere.
// When they are missing, suites that need them skip visibly, naming what was skipped, and never
// pass silently.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: two levels above this file (test/support/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the vectors are looked for: VIGIL_VECTORS if set, else <repo>/../shared/vectors. */
export const VECTORS_DIR = process.env['VIGIL_VECTORS']
  ? resolve(process.env['VIGIL_VECTORS'])
  : resolve(REPO_ROOT, '..', 'shared', 'vectors');

/** Absolute path of a vector file, e.g. vectorPath('wycheproof', 'x25519_test.json'). */
export function vectorPath(...parts: string[]): string {
  return join(VECTORS_DIR, ...parts);
}

export function hasVectors(...parts: string[]): boolean {
  return existsSync(vectorPath(...parts));
}

/**
 * True if the file is present; otherwise prints which suite is skipped and why, so a run without
 * the vectors says so in its output. Use with describe.skipIf(!requireVectors(...)).
 */
export function requireVectors(suite: string, ...parts: string[]): boolean {
  if (hasVectors(...parts)) return true;
  console.warn(
    `[vectors] SKIPPED ${suite}: ${vectorPath(...parts)} not found. ` +
      `Put the shared vectors at ${resolve(REPO_ROOT, '..', 'shared', 'vectors')} or set VIGIL_VECTORS.`,
  );
  return false;
}

export function readVectorText(...parts: string[]): string {
  const path = vectorPath(...parts);
  if (!existsSync(path)) throw new Error(`test vectors not found: ${path} (set VIGIL_VECTORS or add ../shared/vectors)`);
  return readFileSync(path, 'utf8');
}

/**
 * Parses JSON keeping every integer literal that does not fit a double exactly as a string-safe
 * bigint: integers are rewritten to strings before parsing, so 18446744073709551615 survives.
 * Callers convert the fields they know are integers with BigInt(). Only digits outside strings are
 * touched.
 */
export function parseJsonWithBigInts(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '"') {
      // Copy a string literal verbatim, honouring escapes.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j] as string)) j++;
      const literal = text.slice(i, j);
      out += /^-?[0-9]+$/.test(literal) ? `"${literal}"` : literal;
      i = j;
    } else {
      out += ch;
      i++;
    }
  }
  return JSON.parse(out);
}
