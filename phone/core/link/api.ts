// What a HubLink's callers see: its options, states, counters and errors. The parts in this folder
// share them; phone/core/hub-link.ts re-exports them, so callers import from there only.
import type { CameraListing, ProfileName, RefusalCode, StreamProfile } from '../../../crypto/phone-commands.ts';
import type { OpenedFrame } from '../../../crypto/frame.ts';
import type { Notice } from '../../../crypto/messages.ts';
import type { RelayFailure } from '../../../relay/client.ts';
import type { LivenessOptions } from '../liveness.ts';
import type { RelayFactory } from '../pair.ts';
import type { PhoneProfile } from '../profile.ts';
import type { LinkTimers } from './timers.ts';
import type { RosterAlert } from '../roster.ts';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'hub-offline' | 'refused' | 'removed' | 'closed';

/** A camera as the hub lists it, and the hub's h264 profile of it (crypto/phone-commands.ts). */
export type CameraInfo = CameraListing;
export type { StreamProfile };

export interface WatchOptions {
  /** Watch this profile of the camera (the hub's h264 or mpeg1 transcode) instead of its own stream. */
  readonly profile?: ProfileName;
}

export type PathMode = 'auto' | 'lan' | 'relay';
export type PathKind = 'lan' | 'relay';

export interface LinkCounters {
  opened: number;
  notForMe: number;
  replayed: number;
  tampered: number;
  /**
   * Session messages the hub sealed in the session just replaced (a re-key, or the new handshake it
   * asked for after an epoch change) that arrived after the new one began: authentic, late, dropped.
   */
  stale: number;
  malformed: number;
  /** Frames the relay says it dropped for this phone (a slow viewer); the video has a gap there. */
  relayDropped: number;
}

export interface HubLinkOptions {
  profile: PhoneProfile;
  relayFactory: RelayFactory;
  relayUrl?: string;
  /** Relay nodes to use instead of the profile's (tried in order, moving on when one fails). */
  relayUrls?: readonly string[];
  /** 'auto' (default): the hub's LAN endpoint when it answers, else a relay; or only one of them. */
  path?: PathMode;
  /** LAN endpoints found just now (mDNS), tried before the ones the profile remembers. */
  lanUrls?: readonly string[];
  onPath?: (path: PathKind, url: string) => void;
  /** A LAN endpoint was left (or not kept) because the hub did not answer there. */
  onPathRefused?: (url: string, why: string) => void;
  /** Called when the profile's command counter moved, so the caller can save it. */
  onProfileChanged?: (profile: PhoneProfile) => void;
  onState?: (state: LinkState, detail?: string) => void;
  /** Why the relay or LAN endpoint in use cannot be reached: once per change of reason. */
  onRelayFailure?: (failure: RelayFailure) => void;
  onFrame?: (frame: OpenedFrame) => void;
  onNotice?: (notice: Notice) => void;
  onKeyUpdate?: (epoch: number) => void;
  /** Roster changes this phone had not seen (new phones, removals): show them to the owner. */
  onRosterAlerts?: (alerts: RosterAlert[]) => void;
  /** The hub's roster log does not add up (a fork, or a key update for a roster not in it). */
  onRosterProblem?: (why: string) => void;
  commandTimeoutMs?: number;
  /** How long a session is used before the next handshake (REKEY_AFTER_MS); tests shorten it. */
  rekeyAfterMs?: number;
  /** Thresholds (and, in tests, the clock) for telling live video from old; see liveness.ts. */
  liveness?: LivenessOptions;
  /**
   * The clock and timers every wait of the link runs on (real ones by default); a test passes a
   * manual clock. `liveness.now`, when given, is the monotonic clock instead of `timers.now`.
   */
  timers?: LinkTimers;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** Set when the hub refused the command (its stable code); unset when it never answered. */
  readonly code: RefusalCode | undefined;
  constructor(message: string, code?: RefusalCode) {
    super(message);
    this.code = code;
  }
}

/** The stream a watch names: its topic and the camera number its frames carry. */
export function streamOf(camera: CameraInfo, opts: WatchOptions = {}): { topic: string; number: number } {
  if (opts.profile === undefined) return { topic: camera.topic, number: camera.number };
  const p = camera.profiles?.find((x) => x.name === opts.profile);
  if (p === undefined) throw new CommandError(`camera "${camera.name}" has no ${opts.profile} profile`);
  return { topic: p.topic, number: p.number };
}
