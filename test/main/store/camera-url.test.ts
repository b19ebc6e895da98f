import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { joinCameraUrl, splitCameraUrl } from '../../../main/store/camera-url.ts';

describe('splitCameraUrl', () => {
  const cases: [string, string, string | null, string | null][] = [
    // [input, url without credentials, username, password]
    ['rtsp://admin:hunter2@192.168.1.20:554/Streaming/Channels/101', 'rtsp://192.168.1.20:554/Streaming/Channels/101', 'admin', 'hunter2'],
    ['rtsp://192.168.1.20/stream1', 'rtsp://192.168.1.20/stream1', null, null],
    ['rtsp://admin@192.168.1.20/stream1', 'rtsp://192.168.1.20/stream1', 'admin', null],
    ['rtsp://:onlypw@cam.local/', 'rtsp://cam.local/', null, 'onlypw'],
    // Percent-encoded: what a careful user or a camera's own "copy URL" button gives.
    ['rtsp://admin:p%40ss%3Aw0rd%2F%23%25@10.0.0.2/live', 'rtsp://10.0.0.2/live', 'admin', 'p@ss:w0rd/#%'],
    ['rtsp://user%40example.com:pw@10.0.0.2/', 'rtsp://10.0.0.2/', 'user@example.com', 'pw'],
    ['rtsp://admin:%E5%AF%86%E7%A0%81@10.0.0.2/', 'rtsp://10.0.0.2/', 'admin', '密码'],
    // Typed unencoded: the last @ ends the credentials, and a stray % stays literal.
    ['rtsp://admin:p@ss@10.0.0.3/h264', 'rtsp://10.0.0.3/h264', 'admin', 'p@ss'],
    ['rtsp://admin:100%@10.0.0.3/h264', 'rtsp://10.0.0.3/h264', 'admin', '100%'],
    // Digest-authenticating cameras (Hikvision, Dahua) with passwords full of digest-header syntax.
    ['rtsp://admin:a%22b%2Cc%3Dd%3Ae@10.0.0.4:554/cam/realmonitor?channel=1&subtype=0', 'rtsp://10.0.0.4:554/cam/realmonitor?channel=1&subtype=0', 'admin', 'a"b,c=d:e'],
    ['rtsps://admin:x@[fe80::1]:322/live', 'rtsps://[fe80::1]:322/live', 'admin', 'x'],
    // Credentials as query parameters (some cheap cameras): split off, parameter names kept.
    ['rtsp://10.0.0.5/cam?channel=1&user=admin&password=se%26cret&stream=0', 'rtsp://10.0.0.5/cam?channel=1&stream=0', 'admin', 'se&cret'],
    ['rtsp://10.0.0.5/live?USR=admin&PWD=x', 'rtsp://10.0.0.5/live', 'admin', 'x'],
  ];

  it.each(cases)('%s', (input, url, username, password) => {
    const split = splitCameraUrl(input);
    expect(split).toMatchObject({ url, username, password });
    expect(split.url).not.toContain('@');
    if (password !== null) expect(split.url).not.toContain(password);
    // Joined back, the credentials read the same as they were given.
    const back = splitCameraUrl(joinCameraUrl(split.url, split));
    expect(back).toEqual(split);
  });

  it('puts query credentials back where the camera reads them', () => {
    const split = splitCameraUrl('rtsp://10.0.0.5/cam?channel=1&user=admin&password=se%26cret');
    expect(joinCameraUrl(split.url, split)).toBe('rtsp://10.0.0.5/cam?channel=1&user=admin&password=se%26cret');
  });

  it('refuses what it cannot split, without echoing the password', () => {
    const refused = [
      'rtsp://10.0.0.6/user=admin&password=topsecret&channel=1&stream=0.sdp', // XMeye path style
      'rtsp://admin:topsecret@10.0.0.6/live?password=topsecret',
      'http://admin:topsecret@10.0.0.6/',
      'admin:topsecret@10.0.0.6',
      'rtsp://admin:topsecret@/x',
      'rtsp://admin:top#secret@10.0.0.6/',
      'rtsp://admin:top\nsecret@10.0.0.6/',
    ];
    for (const input of refused) {
      let message = '';
      try {
        splitCameraUrl(input);
      } catch (e) {
        message = String(e);
      }
      expect(message, input).toMatch(/StoreError/);
      expect(message, input).not.toContain('topsecret');
      expect(message, input).not.toContain('secret@');
    }
  });

  it('round-trips any password and username', () => {
    // eslint-disable-next-line no-control-regex
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
    fc.assert(fc.property(text, text, (username, password) => {
      const joined = joinCameraUrl('rtsp://10.1.2.3:554/stream?x=1', { username, password, usernameParam: null, passwordParam: null });
      const split = splitCameraUrl(joined);
      expect(split).toEqual({ url: 'rtsp://10.1.2.3:554/stream?x=1', username, password, usernameParam: null, passwordParam: null });
    }), { numRuns: 300 });
  });
});
