// Canonical binary encoding for Vigil's own messages: fixed field order, fixed-size fields where
// possible, u16/u32 big-endian length prefixes otherwise. The layout and its checks are lib/bytes.ts
// (shared with the relay codec); here a reader's faults become CryptoError 'malformed' with the
// reader's `where`, and its byte fields are copies, so a caller may wipe one without the input.
import { ByteReader, ByteWriter, describeFault } from '../lib/bytes.ts';
import { malformed } from './errors.ts';

/** Writes what this build composes: a fault here is a bug (a wrong-length key), not bad input. */
export class Writer extends ByteWriter {
  constructor() {
    super({ fail: (fault) => new RangeError(describeFault(fault)) });
  }
}

/** Reads what a peer sent: every fault is `malformed` at `where`, e.g. `readPairing2`. */
export class Reader extends ByteReader {
  constructor(buf: Uint8Array, where: string) {
    super(buf, { copy: true, fail: (fault) => malformed(where, describeFault(fault)) });
  }
}
