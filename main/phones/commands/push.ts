// push-subscribe, push-unsubscribe, push-settings (PROTOCOL §17.3): a phone's Web Push subscription
// and what it wants pushed. The endpoint must pass the hub's policy (main/push/endpoint.ts: https,
// a public address) before it is stored: the hub only ever POSTs to endpoints that passed it.
import { CommandRefused } from '../../../crypto/phone-commands.ts';
import { DEFAULT_PUSH_PREFS } from '../../../crypto/push-prefs.ts';
import { fromBase64url, toBase64url } from '../../../crypto/bytes.ts';
import { checkEndpoint, EndpointRefused, type EndpointPolicy } from '../../push/endpoint.ts';
import type { PushSubscriptions } from '../../store/push.ts';
import type { Handler } from './handlers.ts';

export interface PushCommandParts {
  subscriptions: PushSubscriptions;
  /** The hub's VAPID public key (65 bytes). */
  vapidKey: Uint8Array;
  policy: EndpointPolicy;
}

export interface PushCommands {
  subscribe: Handler<'push-subscribe'>;
  unsubscribe: Handler<'push-unsubscribe'>;
  settings: Handler<'push-settings'>;
}

export function pushCommands(p: PushCommandParts): PushCommands {
  const vapidKey = toBase64url(p.vapidKey);
  return {
    subscribe: async (a, { device }) => {
      try {
        checkEndpoint(a.endpoint, p.policy);
      } catch (e) {
        if (e instanceof EndpointRefused) throw new CommandRefused('bad-arguments', e.message);
        throw e;
      }
      p.subscriptions.put({ deviceId: device.id, endpoint: a.endpoint, p256dh: fromBase64url(a.p256dh), auth: fromBase64url(a.auth), prefs: a.prefs });
      return { vapidKey, subscribed: true, prefs: a.prefs };
    },
    unsubscribe: async (_a, { device }) => {
      p.subscriptions.remove(device.id);
      return { ok: true };
    },
    settings: async (a, { device }) => {
      if (a.prefs !== undefined && p.subscriptions.setPrefs(device.id, a.prefs)) return { vapidKey, subscribed: true, prefs: a.prefs };
      const s = p.subscriptions.get(device.id);
      return { vapidKey, subscribed: s !== undefined, prefs: s?.prefs ?? DEFAULT_PUSH_PREFS };
    },
  };
}
