// How the hub reads a child's stdout (ffmpeg's fragmented MP4), once per fragment per camera.
//
// Why not child.stdout.on('data'): for every read, Node allocates a 64 KiB buffer, copies what came
// into a new exact-size one and runs it through the stream machinery; in a process that sleeps
// between frames that costs about 240 µs of CPU per read on the 2-vCPU machine of
// docs/PERFORMANCE.md, most of it page faults on fresh memory and garbage collection, more than
// ffmpeg's whole remux of the frame. net.Socket's `onread` reads into one buffer we keep instead
// (about 100 µs there); `onread` exists only for sockets we create, so on POSIX the child's stdout
// is one end of a Unix socket pair made through a private directory, and we hold the other end.
// Elsewhere (Windows) and if that set-up fails, the plain pipe.
//
// Either way the caller gets each read as a Uint8Array it owns (copied out of the shared buffer):
// the fMP4 splitter keeps views of it.
//
// Paced reading (native/paced-sockets.ts): a camera nobody watches is read every PACE_MS with all
// the others, in one event-loop turn, instead of once per frame.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isPaced, setPaced } from './paced-sockets.ts';

export { PACE_MS } from './paced-sockets.ts';

/** One read buffer for every camera: callbacks run one at a time and copy out before returning. */
const READ_BUFFER_BYTES = 256 * 1024;
let readBuffer: Uint8Array | undefined; // made on the first socket pair, not at import

/** Longest socket path we use: under the 104 bytes of macOS's sockaddr_un, with room to spare. */
const MAX_SOCKET_PATH_BYTES = 100;

/** How long a paced output may take to hand over what its exited child left in the socket. */
const DRAIN_MS = 1_000;

/** Bounds the set-up of the socket pair (listen, connect, accept on a local path). */
const PAIR_TIMEOUT_MS = 2_000;

export type ChunkHandler = (chunk: Uint8Array) => void;

export interface ChildOutput {
  /** What to give spawn() as the child's stdio: ['ignore', <this>, 'pipe'] and so on. */
  readonly stdio: StdioOptions;
  /** Start delivering the child's stdout to `onChunk`. Call once, right after spawn(). */
  attach(child: ChildProcess, onChunk: ChunkHandler): void;
  /**
   * Paced (true): read on the shared tick, every PACE_MS, with every other paced output; false
   * (the default): read as it comes. A plain pipe is always read as it comes.
   */
  pace(on: boolean): void;
  /** Stop reading and release everything (idempotent). */
  close(): void;
}

/** What the child's stdin is: nothing, or a pipe the caller writes (child.stdin). */
export type ChildStdin = 'ignore' | 'pipe';

/** The plain pipe: Node's own stream, chunks already owned. */
class PipeOutput implements ChildOutput {
  readonly stdio: StdioOptions;
  #child: ChildProcess | undefined;

  constructor(stdin: ChildStdin) {
    this.stdio = [stdin, 'pipe', 'pipe'];
  }

  attach(child: ChildProcess, onChunk: ChunkHandler): void {
    this.#child = child;
    // A pipe error ends in 'close' like everything else; unhandled it would crash the hub.
    child.stdout?.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => onChunk(chunk));
  }

  pace(): void {
    // Node's pipe stream reads ahead into its own buffer: nothing to gain by pausing it.
  }

  close(): void {
    this.#child?.stdout?.destroy();
  }
}

/** Our end of a Unix socket pair, read with `onread` into the shared buffer. */
class SocketPairOutput implements ChildOutput {
  readonly stdio: StdioOptions;
  #onChunk: ChunkHandler | undefined;
  #closed = false;

  constructor(
    private readonly ours: net.Socket,
    private readonly theirs: net.Socket,
    stdin: ChildStdin,
  ) {
    this.stdio = [stdin, theirs, 'pipe'];
  }

  /** Called from the socket's onread (see openChildOutput). */
  deliver(nread: number, buf: Uint8Array): void {
    if (this.#onChunk === undefined || this.#closed || nread <= 0) return;
    const chunk = Buffer.allocUnsafe(nread);
    chunk.set(buf.subarray(0, nread));
    this.#onChunk(chunk);
  }

  attach(child: ChildProcess, onChunk: ChunkHandler): void {
    this.#onChunk = onChunk;
    // The child has its own copy of the descriptor now; ours would keep the stream open after it exits.
    this.theirs.destroy();
    child.once('close', () => this.#closeAfterChild());
  }

  /**
   * The child is gone. Paced, its last output may still wait in our socket: read it as it comes
   * now, and close when the socket ends (its end of file), within DRAIN_MS.
   */
  #closeAfterChild(): void {
    if (!isPaced(this.ours)) {
      this.close();
      return;
    }
    setPaced(this.ours, false);
    const timer = setTimeout(() => this.close(), DRAIN_MS);
    this.ours.once('close', () => {
      clearTimeout(timer);
      this.close();
    });
  }

  pace(on: boolean): void {
    if (!this.#closed) setPaced(this.ours, on);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    setPaced(this.ours, false);
    this.theirs.destroy();
    this.ours.destroy();
  }
}

/**
 * A way to read a child's stdout: the socket pair, or the plain pipe where that is not possible
 * (`kind: 'pipe'` asks for the pipe). `log` hears why, when the set-up failed on a platform that
 * should have it. `stdin: 'pipe'` gives the child a stdin the caller writes (default: none).
 */
export async function openChildOutput(options: { kind?: 'auto' | 'pipe'; stdin?: ChildStdin; log?: (line: string) => void } = {}): Promise<ChildOutput> {
  const { kind = 'auto', stdin = 'ignore', log } = options;
  if (kind === 'pipe' || process.platform === 'win32') return new PipeOutput(stdin);
  try {
    return await openSocketPair(stdin);
  } catch (err) {
    log?.(`reading ffmpeg through a plain pipe (socket pair failed: ${(err as Error).message})`);
    return new PipeOutput(stdin);
  }
}

async function openSocketPair(stdin: ChildStdin): Promise<SocketPairOutput> {
  // mkdtemp makes the directory 0700: only this user can reach the socket inside it, and only
  // until it is removed, right after our end connected.
  // A socket path must fit sockaddr_un (108 bytes on Linux, 104 on macOS); a longer one may be cut
  // short, and the cut path would lie outside our private directory. So: refuse, use the pipe.
  const probe = path.join(os.tmpdir(), 'vigil-out-XXXXXX', 's');
  if (Buffer.byteLength(probe) > MAX_SOCKET_PATH_BYTES) throw new Error(`temporary directory path too long for a socket (${probe})`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-out-'));
  const where = path.join(dir, 's');
  const server = net.createServer();
  let ours: net.Socket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const accepted = new Promise<net.Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject);
      timer = setTimeout(() => reject(new Error(`no connection within ${PAIR_TIMEOUT_MS} ms`)), PAIR_TIMEOUT_MS);
    });
    accepted.catch(() => undefined); // awaited below, unless listen() fails first
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(where, () => resolve());
    });
    // Reads can only come once the child has the other end, i.e. after `deliver` is wired below.
    const sink: { output?: SocketPairOutput } = {};
    ours = net.connect({
      path: where,
      onread: {
        buffer: (readBuffer ??= new Uint8Array(READ_BUFFER_BYTES)),
        callback: (nread: number, buf: Uint8Array) => {
          sink.output?.deliver(nread, buf);
          return true;
        },
      },
    });
    ours.on('error', () => undefined); // the child's exit ends it; 'close' of the child moves us on
    const theirs = await accepted;
    theirs.on('error', () => undefined);
    // Not ours.end(): a shutdown acts on the socket, not on one descriptor, and would reach the
    // child's copy too. Nothing is ever written on our side.
    sink.output = new SocketPairOutput(ours, theirs, stdin);
    return sink.output;
  } catch (err) {
    ours?.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
