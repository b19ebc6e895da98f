// HubBridge over the hub's local HTTP API (headless mode: a browser tab on 127.0.0.1). Every request
// carries the token as a Bearer header; the token came in the link the hub printed (`ui: URL`).
import {
  CALL_TIMEOUT_MS, SLOW_CALLS, SLOW_CALL_TIMEOUT_MS, fail, ok, withTimeout,
  type CallName, type CallValue, type DiscoveredDevice, type HubBridge, type LiveHandle, type LiveSink, type Result,
} from './bridge.ts';
import { LiveFrameReader } from './live-framing.ts';

type Method = 'GET' | 'POST' | 'DELETE';

export class HttpBridge implements HubBridge {
  readonly kind = 'http' as const;

  constructor(private readonly token: string, private readonly base = '') {}

  /** The value's type comes from the contract (HubCalls); the hub's JSON is trusted as its own. */
  #request<K extends CallName>(name: K, method: Method, path: string, body?: unknown): Promise<CallValue<K>> {
    return this.#fetch(name, method, path, body) as Promise<CallValue<K>>;
  }

  async #fetch(name: CallName, method: Method, path: string, body?: unknown): Promise<Result<unknown>> {
    const ms = SLOW_CALLS.has(name) ? SLOW_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS;
    return withTimeout(name, ms, (async (): Promise<Result<unknown>> => {
      let res: Response;
      try {
        res = await fetch(this.base + path, {
          method,
          headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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
      return ok(json);
    })());
  }

  status() { return this.#request('status', 'GET', '/api/status'); }
  listCameras() { return this.#request('listCameras', 'GET', '/api/cameras'); }
  addCamera(input: { name: string; url: string; kind?: 'rtsp' | 'test-pattern' }) { return this.#request('addCamera', 'POST', '/api/cameras', input); }
  renameCamera(id: string, name: string) { return this.#request('renameCamera', 'POST', `/api/cameras/${encodeURIComponent(id)}/rename`, { name }); }
  removeCamera(id: string) { return this.#request('removeCamera', 'DELETE', `/api/cameras/${encodeURIComponent(id)}`); }

  async discovery() {
    // Discovery is another part of the hub; a hub without it answers 404, which is "none here".
    const r = await this.#fetch('discovery', 'GET', '/api/discovery');
    if (!r.ok) return r.error === 'no such route' ? ok(null) : r;
    const list = Array.isArray(r.value) ? r.value : (r.value as { devices?: unknown } | null)?.devices;
    return ok(Array.isArray(list) ? (list as DiscoveredDevice[]) : []);
  }

  createInvite() { return this.#request('createInvite', 'POST', '/api/invites', {}); }
  inviteStatus(id: string) { return this.#request('inviteStatus', 'GET', `/api/invites/${encodeURIComponent(id)}`); }
  approveInvite(id: string, role: 'owner' | 'viewer') { return this.#request('approveInvite', 'POST', `/api/invites/${encodeURIComponent(id)}/approve`, { role }); }
  refuseInvite(id: string) { return this.#request('refuseInvite', 'POST', `/api/invites/${encodeURIComponent(id)}/refuse`, {}); }
  listPhones() { return this.#request('listPhones', 'GET', '/api/devices'); }
  revokePhone(id: string) { return this.#request('revokePhone', 'POST', `/api/devices/${encodeURIComponent(id)}/revoke`, {}); }
  relay() { return this.#request('relay', 'GET', '/api/relay'); }
  audit(limit: number) { return this.#request('audit', 'GET', `/api/audit?limit=${Math.max(1, Math.min(1000, Math.floor(limit)))}`); }

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
