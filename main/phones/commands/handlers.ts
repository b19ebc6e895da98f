// How the hub answers phone commands: one handler per action, typed by crypto/phone-commands.ts, so
// an action without a handler, or a handler answering the wrong shape, does not compile. Commands
// reach a handler only after crypto/command.ts authorised them (roster, role, signature, age,
// sequence) and their arguments were read by READ_ARGS.
import type { Action, Command } from '../../../crypto/command.ts';
import { CommandRefused, READ_ARGS, type ArgsOf, type ProfileName, type ResultOf } from '../../../crypto/phone-commands.ts';
import { profileOf, type LiveCamera, type LiveCameras } from '../../media/live-cameras.ts';
import type { MediaStream } from '../../media/media-bus.ts';
import type { CommandHandler } from '../../phone-sessions.ts';
import type { Device, Store } from '../../store/db.ts';

export interface CommandContext {
  /** The phone that sent it, as the roster has it now. */
  readonly device: Device;
  readonly seq: bigint;
}

export type Handler<A extends Action> = (args: ArgsOf<A>, ctx: CommandContext) => Promise<ResultOf<A>>;
export type Handlers = { readonly [A in Action]: Handler<A> };

function run<A extends Action>(handlers: Handlers, action: A, command: Command, device: Device): Promise<ResultOf<A>> {
  const handler: Handler<A> = handlers[action];
  return handler(READ_ARGS[action](command.args), { device, seq: command.seq });
}

/** The phone sessions' command handler, dispatching to one handler per action. */
export function dispatch(handlers: Handlers): CommandHandler {
  return async (command, device) => run(handlers, command.action, command, device);
}

/** The camera a command names, running on this hub; else refused. */
export function liveCamera(store: Pick<Store, 'getCamera'>, cameras: Pick<LiveCameras, 'get'>, id: string): LiveCamera {
  const camera = store.getCamera(id);
  const live = camera && camera.removedAt === null ? cameras.get(camera.number) : undefined;
  if (live === undefined) throw new CommandRefused('no-such-camera', 'no such camera');
  return live;
}

/** The stream a watch names: the camera's own, or one of its profiles. */
export function streamOf(live: LiveCamera, profile: ProfileName | undefined): MediaStream {
  if (profile === undefined) return live.stream;
  const p = profileOf(live, profile);
  if (p === undefined) {
    throw new CommandRefused('no-profile-yet', profile === 'h264'
      ? 'this camera has no h264 profile (it sends H.264 already, or has not started yet)'
      : `this camera has no ${profile} profile yet (it has not started)`);
  }
  return p.stream;
}
