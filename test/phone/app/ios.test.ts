// phone/app/src/ios.ts: what an iPhone is told, by iOS version and whether it runs from the Home Screen.
import { describe, expect, it } from 'vitest';
import { iosAdvice } from '../../../phone/app/src/ios.ts';

const safari = (os: string) => `Mozilla/5.0 (iPhone; CPU iPhone OS ${os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1`;

describe('iosAdvice', () => {
  it('says nothing off iOS (Android, desktop, an iPad asking for desktop sites)', () => {
    expect(iosAdvice('Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 Chrome/156.0 Mobile Safari/537.36', undefined)).toBeUndefined();
    expect(iosAdvice('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15', false)).toBeUndefined();
  });

  it('16.0-16.3: video, no alerts, whatever the Home Screen', () => {
    for (const os of ['16_0', '16_3_1', '15_7']) {
      const a = iosAdvice(safari(os), false)!;
      expect(a.pushPossible).toBe(false);
      expect(a.text).toMatch(/alerts need iOS 16\.4 or later/);
    }
  });

  it('16.4 and later in Safari: the two taps to the Home Screen; from the Home Screen: nothing to do', () => {
    for (const os of ['16_4', '17_1', '18_2']) {
      const a = iosAdvice(safari(os), false)!;
      expect(a.pushPossible).toBe(true);
      expect(a.text).toMatch(/tap Share .* then "Add to Home Screen"/);
      expect(iosAdvice(safari(os), true)!.text).toBe('');
    }
  });
});
