// The linter holds the layering of docs/ARCHITECTURE.md: each folder may import only what is
// listed for it, so a change that breaks the one-way dependencies fails `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'net', 'http', 'https', 'child_process', 'crypto',
  'dgram', 'dns', 'tls', 'stream', 'worker_threads', 'url', 'util', 'events', 'buffer', 'zlib'];

/** A no-restricted-imports rule listing what a folder must not import, with the reason. */
function forbid(groups) {
  // Test-only hooks (fixed ephemerals, fixed keys) live in *.testing.ts files: never in shipped code.
  const testing = { group: ['**/*.testing.ts', '**/*.testing'], message: 'test-only code: import it from test/ only.' };
  // node-rtsp-stream's VideoStream is an unauthenticated plaintext WebSocket server on all
  // interfaces (DESIGN.md section 5): it must never run. Its MPEG-1 muxer, if ever needed, is
  // reached through native/ by its file path after review, never through the package's entry.
  const rtspStream = { group: ['node-rtsp-stream'], message: 'node-rtsp-stream\'s VideoStream must never be used (plaintext, unauthenticated, all interfaces).' };
  return { 'no-restricted-imports': ['error', { patterns: [...groups, testing, rtspStream] }] };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'renderer/dist/**', 'phone/app/dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['crypto/**/*.ts'],
    rules: forbid([
      { group: nodeBuiltins, message: 'crypto/ is pure: no I/O and no Node built-ins (inject what you need).' },
      { group: ['ws', 'better-sqlite3', 'electron', 'bonjour-service', 'node-rtsp-stream'], message: 'crypto/ depends on libsodium-wrappers only.' },
      { group: ['**/main/**', '**/native/**', '**/relay/**', '**/phone/**', '**/renderer/**'], message: 'crypto/ is the bottom layer.' },
    ]),
  },
  {
    files: ['native/**/*.ts'],
    rules: forbid([
      { group: ['**/main/**', '**/relay/**', '**/phone/**', '**/renderer/**', '**/crypto/**'], message: 'native/ depends on Node built-ins only.' },
      { group: ['electron'], message: 'native/ runs headless too.' },
    ]),
  },
  {
    files: ['relay/**/*.ts'],
    rules: forbid([
      { group: ['**/crypto/**'], message: 'The relay is blind: it needs no crypto/ internals.' },
      { group: ['**/main/**', '**/native/**', '**/phone/**', '**/renderer/**', 'electron', 'better-sqlite3'], message: 'relay/ depends on Node built-ins and ws only.' },
    ]),
  },
  {
    files: ['phone/**/*.ts'],
    rules: forbid([
      { group: ['**/main/**', '**/native/**', '**/renderer/**', 'electron', 'better-sqlite3'], message: 'phone/ depends on crypto/ and the relay client codec only.' },
    ]),
  },
  {
    files: ['renderer/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: forbid([
      { group: nodeBuiltins, message: 'renderer/ runs in a sandboxed page: no Node.' },
      { group: ['electron', '**/main/**', '**/native/**', '**/relay/**', 'better-sqlite3'], message: 'renderer/ talks to main only through the typed bridge.' },
    ]),
  },
  {
    // Only Electron entry files (*.main.ts, *.preload.ts) may touch Electron.
    files: ['main/**/*.ts'],
    ignores: ['main/**/*.main.ts', 'main/**/*.preload.ts', 'main/demo.ts'],
    rules: forbid([
      { group: ['electron'], message: 'Only *.main.ts and *.preload.ts files may import electron; the headless hub never needs it.' },
      { group: ['**/renderer/**', '**/phone/**'], message: 'main/ does not import UI or phone code.' },
    ]),
  },
  {
    // `npm run demo` puts the whole system on one machine: hub, relay, and the phone app's server.
    files: ['main/demo.ts'],
    rules: forbid([
      { group: ['electron'], message: 'The demo is headless.' },
      { regex: '(^|/)(renderer/|phone/(?!app/serve\\.ts$))', message: 'The demo imports no UI or phone code, only the phone app\'s server.' },
    ]),
  },
);
