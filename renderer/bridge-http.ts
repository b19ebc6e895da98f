// HubBridge over the hub's local HTTP API (headless mode: a browser tab on 127.0.0.1). Every request
// carries the token as a Bearer header; the token came in the link the hub printed (`ui: URL`).
import {
  CALL_TIMEOUT_MS, CLIP_PATH_PREFIX, SLOW_CALLS, SLOW_CALL_TIMEOUT_MS, callPath, fail, ok, withTimeout,
  type CallArgs, type CallBody, type CallName, type CallValue, type InviteAccess, type ScopeChange, type NewCameraInput, type RecordingMode, type Result, type Role,
} from '../contract/hub-ui.ts';
import type { HubBridge, LiveHandle, LiveSink } from './bridge.ts';
import { LiveFrameReader } from './live-framing.ts';

export class HttpBridge implements HubBridge {
  readonly kind = 'http' as const;

  constructor(private readonly token: string, private readonly base = '') {}

  /** `POST /api/call/NAME {args}`: the hub checks the arguments and answers the value as JSON. */
  #call<K extends CallName>(name: K, ...args: CallArgs<K>): Promise<Result<CallValue<K>>> {
    const ms = SLOW_CALLS.has(name) ? SLOW_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS;
    const body: CallBody = { args };
    return withTimeout(name, ms, (async (): Promise<Result<CallValue<K>>> => {
      let res: Response;
      try {
        res = await fetch(this.base + callPath(name), {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(ms),
          cache: 'no-store',
        });
      } catch (e) {
        return fail(`cannot reach the hub (${e instanceof Error ? e.message : String(e)})`);
      }
      let json: unknown;
      try {
        json = await res.json();
      } catch {
        return fail(`the hub answered ${res.status} without JSON`);
      }
      if (!res.ok) {
        const message = (json as { error?: unknown } | null)?.error;
        if (res.status === 401) return fail('this page has no valid access token: open the link the hub printed (ui: …)');
        return fail(typeof message === 'string' ? message : `the hub answered ${res.status}`);
      }
      // The value's type is the contract's (HubApi): the hub's JSON is the hub's own.
      return ok(json as CallValue<K>);
    })());
  }

  status() { return this.#call('status'); }
  listCameras() { return this.#call('listCameras'); }
  addCamera(input: NewCameraInput) { return this.#call('addCamera', input); }
  renameCamera(id: string, name: string) { return this.#call('renameCamera', id, name); }
  removeCamera(id: string) { return this.#call('removeCamera', id); }
  discovery() { return this.#call('discovery'); }
  createInvite(ttlSeconds?: number, access?: InviteAccess) { return access === undefined ? this.#call('createInvite') : this.#call('createInvite', ttlSeconds, access); }
  inviteStatus(id: string) { return this.#call('inviteStatus', id); }
  approveInvite(id: string, role: Role) { return this.#call('approveInvite', id, role); }
  refuseInvite(id: string) { return this.#call('refuseInvite', id); }
  listPhones() { return this.#call('listPhones'); }
  revokePhone(id: string) { return this.#call('revokePhone', id); }
  setPhoneScope(id: string, change: ScopeChange) { return this.#call('setPhoneScope', id, change); }
  relay() { return this.#call('relay'); }
  audit(limit: number) { return this.#call('audit', limit); }
  roster() { return this.#call('roster'); }
  recordings() { return this.#call('recordings'); }
  recordingStorage() { return this.#call('recordingStorage'); }
  setRecording(camera: string, mode: RecordingMode, keepDays?: number) { return keepDays === undefined ? this.#call('setRecording', camera, mode) : this.#call('setRecording', camera, mode, keepDays); }
  desktopRecordings() { return this.#call('desktopRecordings'); }
  setDesktopRecordings(enabled: boolean) { return this.#call('setDesktopRecordings', enabled); }
  recordingRanges(camera: string, from: number, to: number) { return this.#call('recordingRanges', camera, from, to); }
  playRecording(camera: string, from: number, seconds: number) { return this.#call('playRecording', camera, from, seconds); }

  /** `GET /api/clip/ID` with the token: the MP4's bytes, once. */
  recordingClip(clip: string): Promise<Result<Uint8Array>> {
    return withTimeout('recordingClip', SLOW_CALL_TIMEOUT_MS, (async (): Promise<Result<Uint8Array>> => {
      try {
        const res = await fetch(this.base + CLIP_PATH_PREFIX + encodeURIComponent(clip), {
          headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(SLOW_CALL_TIMEOUT_MS), cache: 'no-store',
        });
        if (!res.ok) {
          const json = await res.json().catch(() => null) as { error?: unknown } | null;
          return fail(typeof json?.error === 'string' ? json.error : `the hub answered ${res.status}`);
        }
        return ok(new Uint8Array(await res.arrayBuffer()));
      } catch (e) {
        return fail(`cannot reach the hub (${e instanceof Error ? e.message : String(e)})`);
      }
    })());
  }

  /** A long-lived streamed response of framed messages (live-framing.ts) from the UI server. */
  openLive(cameraId: string, sink: LiveSink): LiveHandle {
    const abort = new AbortController();
    let ended = false;
    const end = (error?: string) => {
      if (ended) return;
      ended = true;
      sink.onEnd(error);
    };
    void (async () => {
      try {
        const res = await fetch(`${this.base}/live/${encodeURIComponent(cameraId)}`, {
          headers: { authorization: `Bearer ${this.token}` }, signal: abort.signal, cache: 'no-store',
        });
        if (!res.ok || res.body === null) {
          end(`live view unavailable (${res.status})`);
          return;
        }
        const reader = res.body.getReader();
        const frames = new LiveFrameReader({
          onInit: (mime, data) => {
            sink.onInit(mime);
            sink.onData(data);
          },
          onData: (data) => sink.onData(data),
        });
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          frames.push(value);
        }
        end();
      } catch (e) {
        if (abort.signal.aborted) end();
        else end(e instanceof Error ? e.message : String(e));
      }
    })();
    return {
      close: () => {
        ended = true;
        abort.abort();
      },
    };
  }
}
