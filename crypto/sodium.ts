// The one place that loads libsodium. Every crypto/ module calls `sodium()` after `await cryptoReady()`,
// so the WebAssembly start-up happens once, in Node and in browsers alike.
import lib from 'libsodium-wrappers';

let loaded = false;

/** Resolves when libsodium is ready; call once before any other crypto/ function. */
export async function cryptoReady(): Promise<void> {
  await lib.ready;
  loaded = true;
}

/** The ready libsodium instance; throws if cryptoReady() was not awaited first. */
export function sodium(): typeof lib {
  if (!loaded) throw new Error('crypto/: await cryptoReady() before using the protocol');
  return lib;
}
