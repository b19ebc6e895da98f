// The hub's V8 flags (main/hub.v8-flags; why they are what they are is written there). bin/vigil
// passes them to `node` for `vigil hub`; V8 takes heap and GC flags only at start, so this is for
// programs that start a hub process themselves (the path benchmark) and for the test that checks
// bin/vigil.
import { readFileSync } from 'node:fs';

export const HUB_V8_FLAGS_FILE = new URL('./hub.v8-flags', import.meta.url);

export function hubV8Flags(): string[] {
  // As bin/vigil reads it: everything after a '#' is a comment.
  return readFileSync(HUB_V8_FLAGS_FILE, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/\s+/)
    .filter((flag) => flag !== '');
}
