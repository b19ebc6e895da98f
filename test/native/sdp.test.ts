import { describe, it, expect } from 'vitest';
import { SdpError, baseUrl, describeSdp, parseSdp, resolveControl } from '../../native/sdp.ts';

// As GStreamer's RTSP server (the test camera) answers, H.264 with PCMU audio.
const GST_H264 = [
  'v=0',
  'o=- 1188340656180883 1 IN IP4 127.0.0.1',
  's=Session streamed with GStreamer',
  'i=rtsp-server',
  't=0 0',
  'a=tool:GStreamer',
  'a=type:broadcast',
  'a=control:*',
  'a=range:npt=now-',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:256',
  'a=rtpmap:96 H264/90000',
  'a=framerate:15',
  'a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LADNoFB+wFqDAwNSgAAAMACAAAAwD0eKFV,aM48gA==;profile-level-id=42c00c;level-asymmetry-allowed=1',
  'a=control:stream=0',
  'm=audio 0 RTP/AVP 0',
  'c=IN IP4 0.0.0.0',
  'a=control:stream=1',
  '',
].join('\r\n');

const H265 = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=cam',
  't=0 0',
  'm=video 0 RTP/AVP 98',
  'a=rtpmap:98 H265/90000',
  'a=fmtp:98 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwA8ugJA; sprop-sps=QgEBAWAAAAMAkAAAAwAAAwA8oAoIDxZbpKTC//AAEAAWoMDAwIAAAAMAgAAAB4Q=; sprop-pps=RAHAcYMS',
  'a=control:rtsp://127.0.0.1/live/track1',
  '',
].join('\n');

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

describe('parseSdp / describeSdp', () => {
  it('reads the test camera\'s H.264 answer: codec, payload type, clock, parameter sets, framerate, controls', () => {
    const s = describeSdp(GST_H264, { requestUrl: 'rtsp://127.0.0.1:8554/cam', contentBase: 'rtsp://127.0.0.1:8554/cam/' });
    expect(s.control).toBe('rtsp://127.0.0.1:8554/cam/');
    expect(s.video).toMatchObject({ codec: 'h264', payloadType: 96, clockRate: 90000, control: 'rtsp://127.0.0.1:8554/cam/stream=0', framerate: 15 });
    expect(s.video!.parameterSets.map(hex)).toEqual(['6742c00cda0507ec05a830303528000003000800000300f478a155', '68ce3c80']);
    expect(s.video!.fmtp['profile-level-id']).toBe('42c00c');
    expect(s.video!.unsupportedReason).toBeUndefined();
    // PCMU by its static payload type, no rtpmap.
    expect(s.audio).toEqual({ codec: 'pcmu', payloadType: 0, clockRate: 8000, control: 'rtsp://127.0.0.1:8554/cam/stream=1' });
  });

  it('reads H.265 parameter sets in VPS, SPS, PPS order and keeps an absolute control URL', () => {
    const s = describeSdp(H265, { requestUrl: 'rtsp://127.0.0.1/live' });
    expect(s.video).toMatchObject({ codec: 'h265', payloadType: 98, control: 'rtsp://127.0.0.1/live/track1' });
    expect(s.video!.parameterSets.map((p) => (p[0]! >> 1) & 0x3f)).toEqual([32, 33, 34]);
    expect(s.control).toBe('rtsp://127.0.0.1/live');
  });

  it('marks H.265 with DONL and H.264 interleaved mode as unsupported', () => {
    const donl = H265.replace('sprop-pps=RAHAcYMS', 'sprop-pps=RAHAcYMS;sprop-max-don-diff=2');
    expect(describeSdp(donl, { requestUrl: 'rtsp://h/' }).video!.unsupportedReason).toMatch(/DONL/);
    const interleaved = GST_H264.replace('packetization-mode=1', 'packetization-mode=2');
    expect(describeSdp(interleaved, { requestUrl: 'rtsp://h/' }).video!.unsupportedReason).toMatch(/interleaved/);
  });

  it('prefers an H.264/H.265 video track over an earlier MJPEG one', () => {
    const sdp = ['v=0', 'm=video 0 RTP/AVP 26', 'a=control:mjpeg', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=control:h264', ''].join('\n');
    expect(describeSdp(sdp, { requestUrl: 'rtsp://h/s' }).video).toMatchObject({ codec: 'h264', control: 'rtsp://h/s/h264' });
    const mjpegOnly = ['v=0', 'm=video 0 RTP/AVP 26', ''].join('\n');
    expect(describeSdp(mjpegOnly, { requestUrl: 'rtsp://h/s' }).video).toMatchObject({ codec: 'jpeg', control: 'rtsp://h/s' });
  });

  it('gives no video for an audio-only SDP', () => {
    const s = describeSdp(['v=0', 'm=audio 0 RTP/AVP 97', 'a=rtpmap:97 MPEG4-GENERIC/16000/1', ''].join('\n'), { requestUrl: 'rtsp://h/a' });
    expect(s.video).toBeUndefined();
    expect(s.audio).toMatchObject({ codec: 'mpeg4-generic', clockRate: 16000 });
  });

  it('skips parameter sets that are not clean base64', () => {
    const s = describeSdp(GST_H264.replace('aM48gA==', 'aM4*gA=='), { requestUrl: 'rtsp://h/' });
    expect(s.video!.parameterSets).toHaveLength(1);
  });

  it('throws typed errors: too large, not an SDP, too many m= lines', () => {
    expect(() => parseSdp('v=0\n' + 'a=x\n'.repeat(20000))).toThrow(expect.objectContaining({ code: 'too-large' }));
    expect(() => parseSdp('<html>hello</html>')).toThrow(SdpError);
    expect(() => parseSdp('hello')).toThrow(/malformed/);
    expect(() => parseSdp('v=0\nm=video\n')).toThrow(/malformed/);
    expect(() => parseSdp('v=0\n' + 'm=video 0 RTP/AVP 96\n'.repeat(40))).toThrow(expect.objectContaining({ code: 'too-many-media' }));
  });
});

describe('control URLs (RFC 2326 C.1.1)', () => {
  it('the base is Content-Base, else Content-Location, else the request URL', () => {
    expect(baseUrl({ requestUrl: 'rtsp://h/r', contentBase: 'rtsp://h/b/', contentLocation: 'rtsp://h/l/' })).toBe('rtsp://h/b/');
    expect(baseUrl({ requestUrl: 'rtsp://h/r', contentLocation: 'rtsp://h/l/' })).toBe('rtsp://h/l/');
    expect(baseUrl({ requestUrl: 'rtsp://h/r', contentBase: 'not absolute' })).toBe('rtsp://h/r');
  });

  it("'*' and no control are the base; absolute URLs stay; relative ones join with one slash", () => {
    expect(resolveControl('*', 'rtsp://h/cam/')).toBe('rtsp://h/cam/');
    expect(resolveControl(undefined, 'rtsp://h/cam')).toBe('rtsp://h/cam');
    expect(resolveControl('rtsp://other/x', 'rtsp://h/cam')).toBe('rtsp://other/x');
    expect(resolveControl('trackID=1', 'rtsp://h/cam/')).toBe('rtsp://h/cam/trackID=1');
    expect(resolveControl('trackID=1', 'rtsp://h/cam')).toBe('rtsp://h/cam/trackID=1');
    expect(resolveControl('/trackID=1', 'rtsp://h/cam/')).toBe('rtsp://h/cam/trackID=1');
  });
});
