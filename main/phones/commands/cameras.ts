// list-cameras: what phones are told of each camera (PROTOCOL §10.2).
import type { CameraInfo, ProfileInfo } from '../../../contract/hub-ui.ts';
import { PROFILE_NAMES, type CameraListing, type StreamProfile } from '../../../crypto/phone-commands.ts';
import type { Store } from '../../store/db.ts';
import type { Handler } from './handlers.ts';

/** A profile the phones know the name of (the contract's name is a string). */
function profileListing(p: ProfileInfo): StreamProfile[] {
  const name = PROFILE_NAMES.find((n) => n === p.name);
  return name === undefined ? [] : [{ name, topic: p.topic, number: p.number, mime: p.mime, codecs: p.codecs }];
}

export function listCameras(store: Pick<Store, 'listCameras'>, status: () => CameraInfo[]): Handler<'list-cameras'> {
  return async () => {
    // ONVIF cameras (added from discovery) may take snapshots and PTZ; the camera says if not.
    const onvif = new Set(store.listCameras().filter((c) => c.onvifPin !== null).map((c) => c.id));
    return status().map((c): CameraListing => ({
      id: c.id, name: c.name, number: c.number, topic: c.topic, state: c.state,
      ...(c.mime ? { mime: c.mime, codecs: c.codecs } : {}),
      // The h264 profile's mime and codecs are a guess (avc1.640028) until its transcoder first ran.
      ...(c.profiles ? { profiles: c.profiles.flatMap((p) => profileListing(p)) } : {}),
      ptz: onvif.has(c.id),
      snapshot: onvif.has(c.id),
    }));
  };
}
