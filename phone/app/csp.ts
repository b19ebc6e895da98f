// The app's Content-Security-Policy, shared by the build (a <meta> tag, for hosts that cannot set
// headers) and the server (a header, which can also forbid framing). No inline script anywhere;
// 'wasm-unsafe-eval' lets libsodium compile its WebAssembly and nothing else. Plaintext WebSockets
// are allowed to loopback relays only (development and tests); real relays are wss:.
export const CONNECT_SOURCES = ["'self'", 'wss:', 'ws://127.0.0.1:*', 'ws://localhost:*'];

export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self'",
  "media-src 'self' blob:",
  `connect-src ${CONNECT_SOURCES.join(' ')}`,
  "manifest-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "require-trusted-types-for 'script'",
  // One Trusted Types policy, which only ever yields the service worker's URL (updates.dom.ts).
  'trusted-types vigil',
].join('; ');

/** Header-only additions (frame-ancestors is ignored in a <meta> tag). */
export const APP_CSP_HEADER = `${APP_CSP}; frame-ancestors 'none'`;
