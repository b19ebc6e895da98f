import { describe, it, expect } from 'vitest';
import { Redactor, StderrRing, redactUrls, urlWithoutCredentials } from '../../native/redact.ts';

describe('redaction of camera credentials', () => {
  it('removes userinfo from every URL in a text', () => {
    expect(redactUrls("Input #0, rtsp, from 'rtsp://admin:pw@10.0.0.5:554/s1': x rtsps://u@h/")).toBe(
      "Input #0, rtsp, from 'rtsp://***@10.0.0.5:554/s1': x rtsps://***@h/",
    );
    expect(urlWithoutCredentials('rtsp://admin:p%40ss@cam.local:554/live?x=1')).toBe('rtsp://cam.local:554/live?x=1');
  });

  it('removes the password in raw, percent-encoded and Basic-auth forms', () => {
    const r = Redactor.forUrl('rtsp://admin:p%40ss%20w0rd@cam/');
    const basic = Buffer.from('admin:p@ss w0rd').toString('base64');
    const out = r.redact(`a p@ss w0rd b p%40ss%20w0rd c Authorization: Basic ${basic}`);
    expect(out).not.toMatch(/p@ss|p%40ss/);
    expect(out).not.toContain(basic);
  });

  it('keeps a bounded, redacted tail of stderr, even when a secret spans two chunks', () => {
    const ring = new StderrRing(new Redactor(['hunter2']), 5, 200, 50);
    ring.push('line with hun');
    ring.push('ter2 inside\n');
    for (let i = 0; i < 20; i++) ring.push(`noise ${i}\n`);
    ring.push('x'.repeat(10_000)); // one endless line
    ring.push('\n');
    const text = ring.text();
    expect(text).not.toContain('hunter2');
    expect(text.split('\n').length).toBeLessThanOrEqual(5);
    expect(text.length).toBeLessThanOrEqual(400);
    expect(ring.tail(1)[0]?.endsWith('…')).toBe(true);
  });
});
