// Minimal fMP4 boxes, byte for byte as ISO/IEC 14496-12 lays them out, for the phone's media-time
// tests: an init segment with tracks and timescales, fragments with one traf per track.

function box(type: string, ...body: Uint8Array[]): Uint8Array {
  const size = 8 + body.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  out.set(new TextEncoder().encode(type), 4);
  let o = 8;
  for (const b of body) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v));
  return out;
}

/** ftyp + moov with a trak per [trackId, timescale] (tkhd and mdhd version 0). */
export function initSegment(tracks: [number, number][]): Uint8Array {
  const traks = tracks.map(([id, timescale]) => box('trak',
    // version/flags, creation, modification, track_ID, reserved, duration
    box('tkhd', u32s(0x0000_0003, 0, 0, id, 0, 0)),
    box('mdia', box('mdhd', u32s(0, 0, 0, timescale, 0, 0)))));
  return concat([box('ftyp', new TextEncoder().encode('isom'), u32s(0x200)), box('moov', box('mvhd', u32s(0, 0, 0, 1000, 0)), ...traks)]);
}

/** moof + mdat with a traf per [trackId, decodeTime]; tfdt version 1 unless `v0`. */
export function fragment(trafs: [number, number][], v0 = false): Uint8Array {
  const boxes = trafs.map(([id, t]) => box('traf',
    box('tfhd', u32s(0x0002_0000, id)),
    v0 ? box('tfdt', u32s(0, t)) : box('tfdt', u32s(0x0100_0000, Math.floor(t / 2 ** 32), t % 2 ** 32))));
  return concat([box('moof', box('mfhd', u32s(0, 1)), ...boxes), box('mdat', Uint8Array.of(1, 2, 3))]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
