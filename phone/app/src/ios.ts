// What an iPhone gets from the app, by iOS version, said plainly (phone/app/README.md "On iPhone"):
//   16.0–16.3: video through the hub's MPEG-1 fallback (no Media Source), no alerts;
//   16.4+: alerts (Web Push), but only from the app added to the Home Screen;
//   17.1+: the camera's own video through ManagedMediaSource.
// Web Push on iOS needs the Home Screen app, so Safari outside it shows the two taps that add it.
// Pure: the page passes its user agent and whether it runs from the Home Screen.

export interface IosAdvice {
  /** [major, minor] from the user agent. */
  readonly version: readonly [number, number];
  /** Whether this iOS can get alerts at all (16.4+, from the Home Screen app). */
  readonly pushPossible: boolean;
  /** What to tell the user, or '' when there is nothing to do. */
  readonly text: string;
}

/**
 * Undefined for anything that is not Safari (or a web view) on an iPhone, iPad or iPod; an iPad that
 * asks for desktop sites says "Macintosh" and is not told anything. `standalone`: navigator.standalone,
 * which only iOS Safari defines (true in the Home Screen app).
 */
export function iosAdvice(userAgent: string, standalone: boolean | undefined): IosAdvice | undefined {
  if (!/\b(iPhone|iPad|iPod)\b/.test(userAgent)) return undefined;
  const m = /\bOS (\d+)_(\d+)/.exec(userAgent);
  if (m === null) return undefined;
  const version = [Number(m[1]), Number(m[2])] as const;
  const pushPossible = version[0] > 16 || (version[0] === 16 && version[1] >= 4);
  let text = '';
  if (!pushPossible) {
    text = `This iPhone runs iOS ${version[0]}.${version[1]}: live video works, but alerts need iOS 16.4 or later.`;
  } else if (standalone !== true) {
    text = 'To get alerts on this iPhone, add Vigil to your Home Screen: tap Share (the square with an arrow), then "Add to Home Screen", and open Vigil from there.';
  }
  return { version, pushPossible, text };
}
