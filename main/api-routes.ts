// The local API's routes: what the CLI and the headless UI may ask of a running hub.
import type { Role } from '../crypto/certificate.ts';
import { isCryptoError } from '../crypto/errors.ts';
import { isStoreError } from './store/errors.ts';
import { ApiError, type ApiRoute } from './local-api.ts';
import type { Hub } from './hub.ts';

function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  if (typeof v !== 'string' || v.length === 0) throw new ApiError(400, `missing "${name}"`);
  return v;
}

async function guard<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isStoreError(e)) throw new ApiError(400, e.message);
    if (isCryptoError(e)) throw new ApiError(409, e.message);
    throw e;
  }
}

/** Why the relay link is down: a stable code and a message (relay/client.ts RelayFailureCode). */
function problem(hub: Hub): { code: string; message: string; url: string; status?: number } | null {
  const f = hub.relayProblem;
  return f === undefined ? null : { code: f.code, message: f.message, url: f.url, ...(f.status !== undefined ? { status: f.status } : {}) };
}

export function apiRoutes(hub: Hub): ApiRoute[] {
  return [
    {
      method: 'GET', path: /^\/api\/status$/, handler: () => ({
        hubId: Buffer.from(hub.identity.hubId).toString('hex'),
        epoch: hub.keys.epoch,
        relay: hub.relayState,
        relayProblem: problem(hub),
        lan: hub.lanUrl ?? null,
        phonesOnline: hub.sessions.online,
        keyProtection: hub.store.keyProtection,
        ffmpegProblem: hub.ffmpegProblem ?? null,
      }),
    },
    { method: 'GET', path: /^\/api\/cameras$/, handler: () => hub.cameraStatus() },
    {
      method: 'POST', path: /^\/api\/cameras$/, handler: (_, body) => guard(() => {
        const kind = (body as { kind?: string } | undefined)?.kind === 'test-pattern' ? 'test-pattern' : 'rtsp';
        const camera = hub.addCamera({ name: field(body, 'name'), url: kind === 'test-pattern' ? 'test-pattern:' : field(body, 'url'), kind });
        return { id: camera.id, name: camera.name, number: camera.number };
      }),
    },
    {
      method: 'DELETE', path: /^\/api\/cameras\/(?<id>[^/]+)$/, handler: async (p) => {
        if (!(await hub.removeCamera(decodeURIComponent(p.id ?? '')))) throw new ApiError(404, 'no such camera');
        return { removed: true };
      },
    },
    {
      method: 'POST', path: /^\/api\/cameras\/(?<id>[^/]+)\/rename$/, handler: (p, body) => guard(() => {
        const camera = hub.renameCamera(decodeURIComponent(p.id ?? ''), field(body, 'name'));
        return { id: camera.id, name: camera.name, number: camera.number };
      }),
    },
    {
      method: 'POST', path: /^\/api\/lan$/, handler: async (_, body) => {
        const enabled = (body as { enabled?: unknown } | undefined)?.enabled;
        if (typeof enabled !== 'boolean') throw new ApiError(400, 'missing "enabled" (true or false)');
        await hub.setLan(enabled);
        return { enabled, url: hub.lanUrl ?? null };
      },
    },
    {
      method: 'GET', path: /^\/api\/relay$/, handler: () => ({
        url: hub.relayUrl ?? null,
        state: hub.relayState,
        problem: problem(hub),
        phonesOnline: hub.sessions.online,
        watchingNow: hub.cameraStatus().reduce((n, c) => n + c.watchers, 0),
      }),
    },
    {
      method: 'POST', path: /^\/api\/invites$/, handler: (_, body) => guard(async () => {
        const ttl = Number((body as { ttlSeconds?: unknown } | undefined)?.ttlSeconds ?? 600);
        if (!(ttl >= 30 && ttl <= 3600)) throw new ApiError(400, 'ttlSeconds must be 30..3600');
        return hub.desk.createInvite(ttl);
      }),
    },
    {
      method: 'GET', path: /^\/api\/invites\/(?<id>[0-9a-f]{32})$/, handler: (p) => {
        const status = hub.desk.status(p.id ?? '');
        if (status === undefined) throw new ApiError(404, 'no such invite');
        return status;
      },
    },
    {
      method: 'POST', path: /^\/api\/invites\/(?<id>[0-9a-f]{32})\/approve$/, handler: (p, body) => guard(async () => {
        const role = ((body as { role?: string } | undefined)?.role ?? 'owner') as Role;
        if (role !== 'owner' && role !== 'viewer') throw new ApiError(400, 'role must be owner or viewer');
        const device = await hub.desk.approve(p.id ?? '', role);
        return { id: device.id, name: device.name, role: device.role };
      }),
    },
    {
      method: 'POST', path: /^\/api\/invites\/(?<id>[0-9a-f]{32})\/refuse$/, handler: (p) => guard(async () => {
        await hub.desk.refuse(p.id ?? '');
        return { refused: true };
      }),
    },
    {
      method: 'GET', path: /^\/api\/devices$/, handler: () => hub.store.listDevices({ includeRevoked: true }).map((d) => ({
        id: d.id, name: d.name, role: d.role, pairedAt: d.pairedAt, lastSeen: d.lastSeen, revoked: d.revokedAt !== null,
      })),
    },
    {
      method: 'POST', path: /^\/api\/devices\/(?<id>[0-9a-f]{32})\/revoke$/, handler: async (p) => ({ revoked: await hub.revokeDevice(p.id ?? '') }),
    },
    {
      method: 'GET', path: /^\/api\/audit$/, handler: (_, __, q) => hub.store.listAudit({ limit: Math.min(Number(q.get('limit') ?? 100) || 100, 1000) }),
    },
  ];
}
