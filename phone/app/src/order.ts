// Codec names as the phone app shows them. Which fragments reach the decoder, and when, is
// phone/core/fragment-order.ts (shared with `vigil-phone watch`).

/** A readable codec name for the camera list and the live view. */
export function codecLabel(codecs: string | undefined): string {
  if (!codecs) return 'unknown';
  const names = codecs.split(',').map((c) => c.trim().toLowerCase()).map((c) => {
    if (c.startsWith('avc1') || c.startsWith('avc3')) return 'H.264';
    if (c.startsWith('hvc1') || c.startsWith('hev1')) return 'H.265';
    if (c.startsWith('mp4a')) return 'AAC';
    if (c.startsWith('av01')) return 'AV1';
    if (c.startsWith('vp09')) return 'VP9';
    if (c === 'opus') return 'Opus';
    return c;
  });
  return names.join(' + ');
}

/** The video codec alone ('H.265' for 'hvc1…,mp4a…'), for "H.265 → H.264". */
export function videoCodecLabel(codecs: string | undefined): string {
  const video = codecs?.split(',').map((c) => c.trim()).find((c) => !/^(mp4a|opus)/i.test(c));
  return codecLabel(video);
}

export function isH265(codecs: string | undefined): boolean {
  return codecs !== undefined && /(^|,)\s*(hvc1|hev1)/i.test(codecs);
}

/** The badge for the hub's MPEG-1 fallback (no Media Source in this browser): what it costs, said plainly. */
export const MPEG1_BADGE = 'MPEG-1 fallback: lower quality, more hub CPU';
