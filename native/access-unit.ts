// What the hub's own RTSP reader hands from the network side (native/rtp-h26x.ts) to the MP4 side
// (native/fmp4-writer.ts): one coded picture of an H.264 or H.265 camera. Shared by both so that
// neither depends on the other.

export type VideoCodec = 'h264' | 'h265';

export interface AccessUnit {
  /** The picture's NAL units in decoding order, without start codes or length prefixes. */
  nals: Uint8Array[];
  /**
   * The RTP timestamp, extended past its 32-bit wrap: ticks of the stream's clock (90 kHz for video)
   * since an arbitrary start. Camera order, not checked: a camera whose clock steps back sends a
   * smaller value.
   */
  time: number;
}
