// Pinning: when the owner adds a camera from discovery, the hub stores the identity it accepted
// (the ONVIF endpoint UUID, the device's manufacturer/model/serial from GetDeviceInformation, and
// the device service URL) in the camera's onvif_pin column. Discovery never changes a camera; a
// later announcement at the same address with another identity is only reported as a warning.
import { isIP } from 'node:net';
import type { DiscoveredDevice } from './merge.ts';

export interface OnvifPin {
  readonly v: 1;
  /** `urn:uuid:…` the device announced when added, if it was found by WS-Discovery. */
  readonly endpoint?: string;
  /** `manufacturer/model/serial` from GetDeviceInformation. */
  readonly serial?: string;
  /** The ONVIF device service URL control requests go to (snapshot, PTZ). */
  readonly xaddr?: string;
}

const MAX_PIN_CHARS = 512;

export function encodePin(pin: Omit<OnvifPin, 'v'>): string {
  const clip = (s: string | undefined, n: number) => (s === undefined ? undefined : s.slice(0, n));
  const text = JSON.stringify({ v: 1, endpoint: clip(pin.endpoint, 100), serial: clip(pin.serial, 160), xaddr: clip(pin.xaddr, 240) });
  if (text.length > MAX_PIN_CHARS) throw new RangeError('pin too long');
  return text;
}

/** The pin, or null when the column is empty or not written by this module. */
export function decodePin(text: string | null): OnvifPin | null {
  if (text === null || text === '') return null;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (v === null || typeof v !== 'object' || v['v'] !== 1) return null;
    const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
    const endpoint = str('endpoint');
    const serial = str('serial');
    const xaddr = str('xaddr');
    return { v: 1, ...(endpoint !== undefined ? { endpoint } : {}), ...(serial !== undefined ? { serial } : {}), ...(xaddr !== undefined ? { xaddr } : {}) };
  } catch {
    return null;
  }
}

/** The host a camera lives at: its ONVIF service if pinned, else its stream URL. */
export function cameraHost(camera: { readonly url: string; readonly onvifPin: string | null }): string | undefined {
  const pin = decodePin(camera.onvifPin);
  for (const u of [pin?.xaddr, camera.url]) {
    if (u === undefined) continue;
    try {
      const h = new URL(u).hostname.replace(/^\[|\]$/g, '');
      if (isIP(h) !== 0) return h;
    } catch {
      // try the next
    }
  }
  return undefined;
}

export interface PinWarning {
  readonly camera: string;
  readonly deviceId: string;
  readonly kind: 'identity-changed' | 'moved';
  readonly message: string;
}

/**
 * Compares what discovery saw with the pinned cameras. `identity-changed`: another ONVIF endpoint
 * answers at a pinned camera's address (a spoof, or the camera was swapped): the camera keeps its
 * pin and its URL. `moved`: the pinned endpoint now answers at another address (DHCP): shown only.
 */
export function checkPins(cameras: readonly { readonly name: string; readonly url: string; readonly onvifPin: string | null }[], devices: readonly DiscoveredDevice[]): PinWarning[] {
  const out: PinWarning[] = [];
  for (const c of cameras) {
    const pin = decodePin(c.onvifPin);
    if (pin?.endpoint === undefined) continue;
    const host = cameraHost(c);
    for (const d of devices) {
      if (d.onvif === undefined) continue;
      const sameAddress = host !== undefined && d.addresses.includes(host);
      if (sameAddress && d.onvif.endpoint !== pin.endpoint) {
        out.push({
          camera: c.name, deviceId: d.id, kind: 'identity-changed',
          message: `warning: camera "${c.name}" at ${host} is pinned to ${pin.endpoint}, but ${d.onvif.endpoint} announced itself at that address; the camera is unchanged and no credentials were sent`,
        });
      } else if (!sameAddress && d.onvif.endpoint === pin.endpoint) {
        out.push({
          camera: c.name, deviceId: d.id, kind: 'moved',
          message: `note: camera "${c.name}" (${pin.endpoint}) now answers at ${d.addresses.join(', ')}, not ${host ?? 'its stored address'}`,
        });
      }
    }
  }
  return out;
}
