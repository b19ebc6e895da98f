// Signed commands to the hub and their answers: each command waits for its result (by sequence
// number) or times out, and answers too big for one message (a snapshot, a recorded segment) arrive
// first as chunks.
import { fromBase64url } from '../../../crypto/bytes.ts';
import { signCommand, type Action } from '../../../crypto/command.ts';
import type { Notice, SessionMessage } from '../../../crypto/messages.ts';
import { Envelope } from '../../../crypto/messages.ts';
import { readRefusal, type ArgsOf, type ResultOf } from '../../../crypto/phone-commands.ts';
import { CommandError, type CameraInfo, type HubLinkOptions } from './api.ts';
import type { Paths } from './paths.ts';
import type { HubSession } from './session.ts';
import type { LinkTimers, Timer } from './timers.ts';

export const DEFAULT_COMMAND_TIMEOUT_MS = 15_000;
/** Answers in chunks at once, and chunks per answer (bounded: 18 MiB). */
const MAX_BLOBS = 4;
const MAX_BLOB_CHUNKS = 512;

interface PendingCommand {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: Timer;
}

type Result = Extract<SessionMessage, { kind: 'result' }>;
type BlobNotice = Extract<Notice, { type: 'blob' }>;

export class Rpc {
  private readonly pending = new Map<bigint, PendingCommand>();
  /** Chunks of answers in progress (snapshots), by command; bounded. */
  private readonly blobs = new Map<string, Map<number, Uint8Array>>();

  constructor(
    private readonly opts: HubLinkOptions,
    private readonly timers: LinkTimers,
    private readonly paths: Paths,
    private readonly session: HubSession,
    /** Resolves when the link may send (HubLink.ready()). */
    private readonly ready: () => Promise<void>,
  ) {}

  /**
   * Sends a signed command and waits for the hub's answer. The answer comes inside the authenticated
   * session, from the hub itself: its shape is the hub's word (crypto/phone-commands.ts).
   */
  async command<A extends Action>(action: A, ...[args]: ArgsOf<A> extends null ? [] : [ArgsOf<A>]): Promise<ResultOf<A>> {
    await this.ready();
    const profile = this.opts.profile;
    const seq = this.nextSeq();
    const signed = signCommand(profile.device, { hubId: profile.hub.hubId, seq, issuedAt: Date.now(), action, args });
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = this.timers.after(this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, () => {
        this.pending.delete(seq);
        reject(new CommandError(`${action}: the hub did not answer in time`));
        this.session.commandTimedOut();
      });
      this.pending.set(seq, { resolve, reject, timer });
    });
    // Handled here too, so a close() while the send is still under way is no unhandled rejection.
    result.catch(() => undefined);
    try {
      await this.paths.send(Envelope.SESSION_DATA, this.session.seal({ kind: 'command', signed }));
    } catch (e) {
      // Not sent (the hub is offline, the relay is down): no answer to wait for, and no sign that
      // the hub lost our session.
      this.pending.get(seq)?.timer.cancel();
      this.pending.delete(seq);
      throw e;
    }
    return result as Promise<ResultOf<A>>;
  }

  onResult(message: Result): void {
    const p = this.pending.get(message.seq);
    if (p === undefined) return;
    this.session.answered();
    this.pending.delete(message.seq);
    p.timer.cancel();
    if (message.ok) p.resolve(message.value);
    else {
      const refusal = readRefusal(message.value);
      p.reject(new CommandError(refusal.message, refusal.code));
    }
  }

  /** A chunk of an answer still to come; dropped past the bounds. */
  onBlob({ id, index, data }: BlobNotice): void {
    if (!this.blobs.has(id) && this.blobs.size >= MAX_BLOBS) return; // at most a few answers at once
    const parts = this.blobs.get(id) ?? new Map<number, Uint8Array>();
    if (parts.size >= MAX_BLOB_CHUNKS || !Number.isSafeInteger(index) || index < 0) return;
    parts.set(index, fromBase64url(data));
    this.blobs.set(id, parts);
  }

  /** A JPEG from the camera (ONVIF), sent by the hub in chunks inside the session. */
  async snapshot(camera: CameraInfo): Promise<Uint8Array> {
    return this.collect('snapshot', await this.command('snapshot', { camera: camera.id }));
  }

  /**
   * A recorded segment's file as the hub stores it: ciphertext only the phone opens
   * (crypto/recording.ts openSegment), sent in chunks inside the session like a snapshot.
   */
  async segment(cameraId: string, id: string): Promise<Uint8Array> {
    return this.collect('segment', await this.command('segment', { camera: cameraId, id }));
  }

  /** The answer's chunks, put together; an answer whose chunks do not add up is refused. */
  private collect(what: string, r: { readonly blob: string; readonly chunks: number; readonly bytes: number }): Uint8Array {
    const parts = this.blobs.get(r.blob);
    this.blobs.delete(r.blob);
    if (parts === undefined || parts.size !== r.chunks) throw new CommandError(`${what}: incomplete answer from the hub`);
    const out = new Uint8Array(r.bytes);
    let offset = 0;
    for (let i = 0; i < r.chunks; i++) {
      const chunk = parts.get(i)!;
      if (offset + chunk.length > out.length) throw new CommandError(`${what}: inconsistent answer from the hub`);
      out.set(chunk, offset);
      offset += chunk.length;
    }
    if (offset !== out.length) throw new CommandError(`${what}: inconsistent answer from the hub`);
    return out;
  }

  /** Every command still waiting is refused ('closed'). */
  close(): void {
    for (const [, p] of this.pending) {
      p.timer.cancel();
      p.reject(new CommandError('closed'));
    }
    this.pending.clear();
  }

  private nextSeq(): bigint {
    // Time-based floor keeps sequence numbers rising even if a saved profile lags behind.
    const profile = this.opts.profile;
    const floor = BigInt(Date.now()) * 1000n;
    const seq = profile.lastSeq >= floor ? profile.lastSeq + 1n : floor;
    profile.lastSeq = seq;
    this.opts.onProfileChanged?.(profile);
    return seq;
  }
}
