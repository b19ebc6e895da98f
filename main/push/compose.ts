// Web Push, composed for the hub (PROTOCOL §17.3): the VAPID keys, the subscriptions, the sender
// with its endpoint policy, the events consumer and the phone commands.
import type { HubIdentity } from '../../crypto/identity.ts';
import type { Store } from '../store/db.ts';
import { PushSubscriptions } from '../store/push.ts';
import { pushCommands, type PushCommands } from '../phones/commands/push.ts';
import type { EndpointPolicy } from './endpoint.ts';
import { HubPush } from './hub-push.ts';
import { PushSender, type SendOptions } from './sender.ts';
import { shrinkJpeg } from './thumbnail.ts';
import { vapidKeys } from './vapid.ts';

export interface PushOptions extends EndpointPolicy {
  /** RFC 8292 `sub`: how a push service's operator reaches whoever runs this hub (mailto: or https:). */
  readonly subject?: string;
  readonly send?: Partial<SendOptions>;
}

/** Push services want a contact; a hub has none to give, so a placeholder that names the software. */
export const DEFAULT_PUSH_SUBJECT = 'mailto:hub@vigil.invalid';

export function composePush(o: {
  identity: HubIdentity;
  store: Store;
  options?: PushOptions;
  ownersAtHome(): boolean;
  ffmpegPath?: string;
  log(line: string): void;
}): { push: HubPush; commands: PushCommands } {
  const subscriptions = new PushSubscriptions(o.store);
  const vapid = vapidKeys(o.store);
  const policy: EndpointPolicy = { allowHttpLoopback: o.options?.allowHttpLoopback === true };
  const sender = new PushSender(vapid, o.options?.subject ?? DEFAULT_PUSH_SUBJECT, policy);
  const ffmpeg = o.ffmpegPath;
  const push = new HubPush({
    identity: o.identity, store: o.store, subscriptions, sender, ownersAtHome: o.ownersAtHome, log: o.log,
    ...(o.options?.send ? { send: o.options.send } : {}),
    ...(ffmpeg !== undefined ? { shrink: (jpeg: Uint8Array, max: number) => shrinkJpeg(ffmpeg, jpeg, max) } : {}),
  });
  return { push, commands: pushCommands({ subscriptions, vapidKey: vapid.publicKey, policy }) };
}
