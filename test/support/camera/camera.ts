// Starts the project's own RTSP test camera (GStreamer's RTSP server, rtsp-camera.py next to this
// file) on 127.0.0.1 and stops it again. The camera runs in its own process group and is killed as a
// group; it also exits by itself when our stdin pipe closes (the test process died), so a crashed
// test run leaves nothing behind. It has no time limit of its own unless asked (`runSeconds`): a
// limit guessed per file ran out under a loaded suite while the file still watched (path-choice's
// "video keeps coming" failed so: its camera, limited to 200 s, stopped mid-test). A camera that
// lacks a GStreamer element exits before it serves, and start() rejects at once with its line naming
// the element and package.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { installHint } from '../packages.ts';

export interface CameraOptions {
  codec?: 'h264' | 'h265';
  audio?: 'none' | 'aac' | 'pcmu';
  auth?: 'none' | 'basic' | 'digest' | 'both';
  user?: string;
  password?: string;
  /** e.g. '640x360' (the default: cheap on two cores). */
  size?: string;
  fps?: number;
  gop?: number;
  /** 0 (default) picks a free port; give the old port to restart a camera "at the same address". */
  port?: number;
  path?: string;
  /** The camera exits by itself after this long (default: never; it runs until stop() or until this process is gone). */
  runSeconds?: number;
  /** How long to wait for the ready line (default 15 s). */
  readyTimeoutMs?: number;
  extraArgs?: string[];
  /**
   * Write each frame's creation time (wall clock ms) into its pixels before the encoder (the
   * ready line's `stamp` says where; rtsp-camera.py's STAMP comment says how).
   */
  stamp?: boolean;
  /** Added to the camera's environment (e.g. GST_PLUGIN_SYSTEM_PATH_1_0 to hide a plugin). */
  env?: NodeJS.ProcessEnv;
}

export interface CameraReady {
  url: string;
  url_with_credentials: string;
  port: number;
  path: string;
  codec: string;
  size: string;
  fps: number;
  gop: number;
  audio: string;
  auth: string;
  /** With `stamp`: where the time is written (pixels) and how (rtsp-camera.py, STAMP). */
  stamp: StampLayout | null;
}

/** The stamp's grid: top-left corner, block size, blocks per row, rows, and bits of time. */
export interface StampLayout {
  x: number;
  y: number;
  block: number;
  cols: number;
  rows: number;
  timeBits: number;
}

export class CameraUnavailableError extends Error {
  override readonly name = 'CameraUnavailableError';
}

export const CAMERA_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rtsp-camera.py');
const PYTHON = '/usr/bin/python3'; // python3-gi is installed for Debian's Python, not a venv's

const running = new Set<TestCamera>();
let exitHookInstalled = false;

export class TestCamera {
  private exited: Promise<void>;
  private stopping: Promise<void> | undefined;
  output = '';
  /** The camera's ready line; set before start() resolves. */
  info!: CameraReady;

  private constructor(
    private readonly child: ChildProcess,
    readonly options: CameraOptions,
  ) {
    this.exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  }

  get url(): string {
    return this.info.url;
  }
  /** The URL with user:password@ when auth is on. */
  get urlWithCredentials(): string {
    return this.info.url_with_credentials;
  }
  get port(): number {
    return this.info.port;
  }
  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: CameraOptions = {}): Promise<TestCamera> {
    const args = [
      CAMERA_SCRIPT,
      '--host', '127.0.0.1',
      '--port', String(options.port ?? 0),
      '--path', options.path ?? '/cam',
      '--codec', options.codec ?? 'h264',
      '--audio', options.audio ?? 'none',
      '--auth', options.auth ?? 'none',
      '--size', options.size ?? '640x360',
      '--fps', String(options.fps ?? 15),
      '--run-seconds', String(options.runSeconds ?? 0),
      '--exit-on-stdin-eof',
    ];
    if (options.gop !== undefined) args.push('--gop', String(options.gop));
    if (options.user !== undefined) args.push('--user', options.user);
    if (options.password !== undefined) args.push('--password', options.password);
    if (options.stamp === true) args.push('--stamp');
    if (options.extraArgs) args.push(...options.extraArgs);

    let child: ChildProcess;
    try {
      child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...options.env } });
    } catch (err) {
      throw new CameraUnavailableError(`cannot run ${PYTHON}: ${(err as Error).message}`);
    }
    installExitHook();
    let out = '';
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      err = (err + d).slice(-4096);
    });
    child.stdout?.setEncoding('utf8');

    const ready = new Promise<CameraReady>((resolve, reject) => {
      const timeoutMs = options.readyTimeoutMs ?? 15_000;
      const timer = setTimeout(() => reject(new CameraUnavailableError(`camera not ready within ${timeoutMs} ms\n${err}`)), timeoutMs);
      const done = (): void => clearTimeout(timer);
      child.on('error', (e) => {
        done();
        reject(new CameraUnavailableError(`cannot run ${PYTHON}: ${e.message} (${installHint(`bin:${PYTHON}`)})`));
      });
      // 'close', not 'exit': by then all the camera's output is in, so the message holds its last words.
      child.on('close', (code, signal) => {
        done();
        reject(new CameraUnavailableError(`camera exited (code ${code}, signal ${signal}) before it was ready\n${out}${err}`));
      });
      child.stdout?.on('data', (d: string) => {
        out += d;
        for (const line of out.split('\n')) {
          if (!line.startsWith('{')) continue;
          let msg: { event?: string; error?: string };
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            continue; // partial line
          }
          if (msg.event === 'ready') {
            done();
            resolve(msg as unknown as CameraReady);
            return;
          }
          if (msg.event === 'error') {
            // The camera's own line: what is missing and its Debian package (from .ci/packages).
            done();
            reject(new CameraUnavailableError(`test camera: ${msg.error}`));
            return;
          }
        }
      });
    });
    const camera = new TestCamera(child, options);
    running.add(camera);
    try {
      const info = await ready;
      camera.info = info;
      child.stdout?.on('data', (d: string) => {
        camera.output = (camera.output + d).slice(-4096);
      });
      return camera;
    } catch (e) {
      await camera.stop();
      throw e;
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. Safe to call more than once. */
  stop(graceMs = 3000): Promise<void> {
    this.stopping ??= (async () => {
      const pid = this.child.pid;
      if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        await this.exited;
        clearTimeout(timer);
        killGroup(pid, 'SIGKILL'); // anything the camera left in its group
      }
      this.child.stdin?.destroy();
      running.delete(this);
    })();
    return this.stopping;
  }

  /** Kill without grace, as a crashing camera would go. */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    await this.stop(0);
  }
}

export function startCamera(options: CameraOptions = {}): Promise<TestCamera> {
  return TestCamera.start(options);
}

/** Stop every camera this process started (for afterAll / afterEach). */
export async function stopAllCameras(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) if (c.pid !== undefined) killGroup(c.pid, 'SIGKILL');
  });
}
