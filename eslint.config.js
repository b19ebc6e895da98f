// The linter holds the layering of docs/ARCHITECTURE.md: each folder may import only what is
// listed for it, so a change that breaks the one-way dependencies fails `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'net', 'http', 'https', 'child_process', 'crypto',
  'dgram', 'dns', 'tls', 'stream', 'worker_threads', 'url', 'util', 'events', 'buffer', 'zlib'];

/** What no file of the phone app's page or worker (phone/app/src/) imports: it runs in a browser. */
const appSrc = [
  // A regex, not nodeBuiltins' globs: the glob 'crypto' would also match the folder crypto/.
  { regex: `^(node:|(${nodeBuiltins.filter((m) => !m.includes(':')).join('|')})(/|$))`, message: 'The phone app runs in a browser: no Node built-ins.' },
  { regex: '(^|/)app/(build|serve)\\.ts$|^\\.\\./(build|serve)\\.ts$', message: 'build.ts and serve.ts build and serve the app in Node: the app never imports them.' },
];
const phoneLayer = { group: ['**/main/**', '**/native/**', '**/renderer/**', '**/contract/**', 'electron', 'better-sqlite3'], message: 'phone/ depends on crypto/ and the relay client codec only.' };
/** Globals only a page has, and those a page and a service worker share (never a pure module). */
const PAGE_GLOBALS = ['window', 'document', 'localStorage', 'sessionStorage', 'history', 'alert', 'confirm', 'prompt'];
const WORKER_GLOBALS = ['self', 'navigator', 'location', 'caches', 'indexedDB', 'clients', 'registration', 'importScripts', 'postMessage'];

/** A no-restricted-imports rule listing what a folder must not import, with the reason. */
function forbid(groups) {
  // Test-only hooks (fixed ephemerals, fixed keys) live in *.testing.ts files: never in shipped code.
  const testing = { group: ['**/*.testing.ts', '**/*.testing'], message: 'test-only code: import it from test/ only.' };
  // node-rtsp-stream's VideoStream is an unauthenticated plaintext WebSocket server on all
  // interfaces (DESIGN.md section 5): it must never run. Its package entry (index.js) loads it, so
  // only the MPEG-1 muxer's own file may be imported (native/mpeg1.ts, the mpeg1 profile), by path.
  const rtspStream = {
    regex: '^node-rtsp-stream(?!/mpeg1muxer\\.js$)(/.*)?$',
    message: 'node-rtsp-stream\'s VideoStream must never be used (plaintext, unauthenticated, all interfaces): import only node-rtsp-stream/mpeg1muxer.js.',
  };
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
    // lib/ is below every folder (the byte reader and writer, concat, unreachable): any of them may
    // import it, so it may import nothing, not even a Node built-in or a package, only its own files.
    files: ['lib/**/*.ts'],
    rules: {
      ...forbid([
        { regex: '^(?!\\./[^/]+$)', message: 'lib/ is neutral: it imports only its own files (./name.ts).' },
      ]),
      // It runs in Node, pages and the service worker alike.
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', 'window', 'document', 'self'],
    },
  },
  {
    files: ['crypto/**/*.ts'],
    rules: forbid([
      { group: nodeBuiltins, message: 'crypto/ is pure: no I/O and no Node built-ins (inject what you need).' },
      { group: ['ws', 'better-sqlite3', 'electron', 'bonjour-service', 'node-rtsp-stream'], message: 'crypto/ depends on libsodium-wrappers only.' },
      { group: ['**/main/**', '**/native/**', '**/relay/**', '**/phone/**', '**/renderer/**', '**/contract/**'], message: 'crypto/ is the bottom layer.' },
    ]),
  },
  {
    files: ['native/**/*.ts'],
    rules: forbid([
      { group: ['**/main/**', '**/relay/**', '**/phone/**', '**/renderer/**', '**/crypto/**', '**/contract/**'], message: 'native/ depends on Node built-ins only.' },
      { group: ['electron'], message: 'native/ runs headless too.' },
    ]),
  },
  {
    files: ['relay/**/*.ts'],
    rules: forbid([
      { group: ['**/crypto/**'], message: 'The relay is blind: it needs no crypto/ internals.' },
      { group: ['**/main/**', '**/native/**', '**/phone/**', '**/renderer/**', '**/contract/**', 'electron', 'better-sqlite3'], message: 'relay/ depends on Node built-ins and ws only.' },
    ]),
  },
  {
    files: ['phone/**/*.ts'],
    rules: forbid([phoneLayer, { group: ['**/*.dom.ts', '**/*.sw.ts'], message: 'Page (*.dom.ts) and service worker (*.sw.ts) code is the app\'s own: phone/app/src/ only.' }]),
  },
  // In the phone app (phone/app/src/) a file's name says where it runs: *.dom.ts in the page,
  // *.sw.ts in the service worker, any other name anywhere (pure: neither page nor worker globals).
  {
    files: ['phone/app/src/**/*.ts'],
    ignores: ['phone/app/src/**/*.dom.ts', 'phone/app/src/**/*.sw.ts'],
    rules: {
      ...forbid([phoneLayer, ...appSrc, { group: ['**/*.dom.ts', '**/*.sw.ts'], message: 'A pure module (neither *.dom.ts nor *.sw.ts) runs anywhere: it imports no page or worker code.' }]),
      'no-restricted-globals': ['error', ...[...PAGE_GLOBALS, ...WORKER_GLOBALS].map((name) => ({ name, message: 'A pure module (neither *.dom.ts nor *.sw.ts) uses no page or worker globals: name it *.dom.ts or *.sw.ts, or pass what it needs in.' }))],
    },
  },
  {
    files: ['phone/app/src/**/*.sw.ts'],
    rules: {
      ...forbid([phoneLayer, ...appSrc, { group: ['**/*.dom.ts'], message: 'The service worker has no page: it imports no *.dom.ts.' }]),
      'no-restricted-globals': ['error', ...PAGE_GLOBALS.map((name) => ({ name, message: 'The service worker has no page (window, document, storage): only *.dom.ts files use them.' }))],
    },
  },
  {
    files: ['phone/app/src/**/*.dom.ts'],
    rules: forbid([phoneLayer, ...appSrc, { group: ['**/*.sw.ts'], message: 'The page registers the service worker by URL; it never imports *.sw.ts.' }]),
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
    // The UI contract, shared by main/ and renderer/: pure, it imports only its own folder.
    files: ['contract/**/*.ts'],
    rules: forbid([
      { regex: '^(?!\\./)', message: 'contract/ is shared by main/ and renderer/: pure, it imports only its own files (./*.ts).' },
    ]),
  },
  {
    // Only Electron entry files (*.main.ts, *.preload.ts) may touch Electron.
    files: ['main/**/*.ts'],
    ignores: ['main/**/*.main.ts', 'main/**/*.preload.ts', 'main/demo.ts', 'main/keys/desktop-playback.ts'],
    rules: forbid([
      { group: ['electron'], message: 'Only *.main.ts and *.preload.ts files may import electron; the headless hub never needs it.' },
      { group: ['**/renderer/**', '**/phone/**'], message: 'main/ does not import UI or phone code.' },
    ]),
  },
  {
    // The desktop app's viewer opens recordings with the phone's own code (issue 16): that, and no other phone code.
    files: ['main/keys/desktop-playback.ts'],
    rules: forbid([
      { group: ['electron'], message: 'The headless hub never needs electron.' },
      { regex: '(^|/)(renderer/|phone/(?!core/(recordings|link/api)\\.ts$))', message: 'Only phone/core/recordings.ts (and its CommandError) are shared with the hub.' },
    ]),
  },
  {
    // Electron entry files touch Electron, and reach the UI only through the contract, as the rest of main/.
    files: ['main/**/*.main.ts', 'main/**/*.preload.ts'],
    rules: forbid([
      { group: ['**/renderer/**', '**/phone/**'], message: 'main/ does not import UI or phone code; the UI contract is in contract/.' },
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
