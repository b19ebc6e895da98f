// The live tile framing: the hub writes it (main/ui/live-stream.ts), the page reads it
// (renderer/live-framing.ts). Both ends must agree byte for byte, however the stream is cut.
import { describe, expect, it } from 'vitest';
import { LIVE_FRAGMENT, liveInitMessage, liveMessage } from '../../main/ui/live-stream.ts';
import { LiveFrameReader, MAX_LIVE_MESSAGE_BYTES, encodeLiveInit, encodeLiveMessage } from '../../renderer/live-framing.ts';

function collect() {
  const events: (['init', string, Uint8Array] | ['data', Uint8Array])[] = [];
  const reader = new LiveFrameReader({ onInit: (m, d) => events.push(['init', m, d]), onData: (d) => events.push(['data', d]) });
  return { events, reader };
}

describe('live framing', () => {
  const mime = 'video/mp4; codecs="avc1.42E01E"';
  const init = Uint8Array.from({ length: 700 }, (_, i) => i & 0xff);
  const frags = [new Uint8Array(0), Uint8Array.of(1, 2, 3), Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) & 0xff)];

  it('writer and reader agree', () => {
    expect(new Uint8Array(liveInitMessage(mime, init))).toEqual(encodeLiveInit(mime, init));
    expect(new Uint8Array(liveMessage(LIVE_FRAGMENT, frags[1]!))).toEqual(encodeLiveMessage(LIVE_FRAGMENT, frags[1]!));
  });

  it('reads the same messages whatever the chunk boundaries', () => {
    const stream = Buffer.concat([liveInitMessage(mime, init), ...frags.map((f) => liveMessage(LIVE_FRAGMENT, f))]);
    for (const step of [1, 3, 5, 64, 4096, stream.length]) {
      const { events, reader } = collect();
      for (let i = 0; i < stream.length; i += step) reader.push(stream.subarray(i, i + step));
      expect(events).toEqual([['init', mime, init], ...frags.map((f) => ['data', f])]);
    }
  });

  it('refuses oversized, unknown and malformed messages', () => {
    const big = Buffer.alloc(5);
    big[0] = LIVE_FRAGMENT;
    big.writeUInt32BE(MAX_LIVE_MESSAGE_BYTES + 1, 1);
    expect(() => collect().reader.push(big)).toThrow(/over the limit/);
    expect(() => collect().reader.push(encodeLiveMessage(9, Uint8Array.of(1)))).toThrow(/unknown message type/);
    expect(() => collect().reader.push(encodeLiveMessage(1, new Uint8Array(10)))).toThrow(/MIME/);
  });
});
