// ONVIF PullPoint events: replies as npm `onvif` parses them (the mock's canned PullMessages reply,
// through the library's own parser) mapped onto event kinds; hostile replies skipped with bounded
// cost; the detector's loop on a scripted PullPoint: start/end, renew, a device that answers at once
// is not hammered, a failing device gets a typed error and a new subscription after a backoff.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES, OnvifEventsDetector, mapNotification, parseNotifications, type PullPoint } from '../../../main/events/onvif-events.ts';
import type { DetectedEvent } from '../../../main/events/hub-events.ts';
import { OnvifError } from '../../../main/onvif/errors.ts';

const require = createRequire(import.meta.url);

/** The library's own parse of a PullMessages reply (what OnvifSession.pullPoint().pull() returns). */
async function libraryParse(xml: string): Promise<unknown> {
  const utils = require('onvif/lib/utils') as { parseSOAPString(xml: string, cb: (err: Error | null, res: unknown) => void): void; linerase(x: unknown): unknown };
  const res = await new Promise<unknown>((resolve, reject) => utils.parseSOAPString(xml, (err, r) => (err ? reject(err) : resolve(r))));
  return (utils.linerase(res) as { pullMessagesResponse: unknown }).pullMessagesResponse;
}

function mockReply(): string {
  const dir = path.join(path.dirname(require.resolve('onvif-mockup/package.json')), 'test', 'serverMockup');
  // The mock's template: both messages in (its Math.random() conditions made true), its fields filled.
  return readFileSync(path.join(dir, 'PullMessages.xml'), 'utf8')
    .replace(/\{\{\? Math\.random\(\) < 0\.5 \}\}|\{\{\?\}\}/g, '')
    .replace(/\{\{=new Date\(\)\.toISOString\(\)\}\}/g, new Date().toISOString())
    .replace(/\{\{=it\.\w+\}\}/g, 'x');
}

function message(topic: string, items: Record<string, string>): string {
  return `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${topic}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${new Date().toISOString()}"><tt:Data>${Object.entries(items).map(([k, v]) => `<tt:SimpleItem Name="${k}" Value="${v}"/>`).join('')}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>`;
}

function reply(messages: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">` +
    `<SOAP-ENV:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-01-01T00:00:00Z</tev:CurrentTime><tev:TerminationTime>2026-01-01T00:01:00Z</tev:TerminationTime>${messages.join('')}</tev:PullMessagesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
}

describe('ONVIF notifications', () => {
  it('the mock\'s PullMessages reply is two motion starts', async () => {
    const list = parseNotifications(await libraryParse(mockReply()));
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ topic: 'RuleEngine/CellMotionDetector/Motion', data: { IsMotion: 'true' } });
    expect(list.map(mapNotification)).toEqual([{ kind: 'motion', active: true, instant: false }, { kind: 'motion', active: true, instant: false }]);
  });

  it('maps motion, tamper and line crossing topics; ignores others and unreadable states', async () => {
    const list = parseNotifications(await libraryParse(reply([
      message('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'false' }),
      message('tns1:VideoSource/MotionAlarm', { State: 'true' }),
      message('tns1:RuleEngine/TamperDetector/Tamper', { IsTamper: 'true' }),
      message('tns1:VideoSource/GlobalSceneChange/ImagingService', { State: 'false' }),
      message('tns1:RuleEngine/LineDetector/Crossed', { ObjectId: '7' }),
      message('tns1:Device/Trigger/DigitalInput', { LogicalState: 'true' }),
      message('tns1:VideoSource/MotionAlarm', { State: 'maybe' }),
    ])));
    expect(list.map(mapNotification)).toEqual([
      { kind: 'motion', active: false, instant: false },
      { kind: 'motion', active: true, instant: false },
      { kind: 'tamper', active: true, instant: false },
      { kind: 'tamper', active: false, instant: false },
      { kind: 'line-crossing', active: true, instant: true },
      undefined,
      undefined,
    ]);
  });

  it('hostile shapes are skipped, and a flood is cut at MAX_MESSAGES', async () => {
    for (const junk of [undefined, null, 42, 'x', [], { notificationMessage: 'x' }, { notificationMessage: [{ topic: { _: 'a'.repeat(10_000) } }] }, { notificationMessage: { topic: 5 } }]) {
      expect(parseNotifications(junk)).toEqual([]);
    }
    const flood = await libraryParse(reply(Array.from({ length: 500 }, () => message('tns1:VideoSource/MotionAlarm', { State: 'true' }))));
    expect(parseNotifications(flood)).toHaveLength(MAX_MESSAGES);
    const items = parseNotifications({ notificationMessage: { topic: 'tns1:VideoSource/MotionAlarm', message: { message: { data: { simpleItem: Array.from({ length: 1000 }, (_, i) => ({ $: { Name: `n${i}`, Value: 'v'.repeat(1000) } })) } } } } });
    expect(Object.keys(items[0]!.data)).toHaveLength(16);
    expect(items[0]!.data['n0']).toHaveLength(64);
  });
});

/** A scripted PullPoint: each pull returns the next reply (or throws it). */
function scripted(replies: (string | Error)[], log: string[]): PullPoint {
  let i = 0;
  return {
    create: async () => { log.push('create'); return {}; },
    pull: async () => {
      log.push('pull');
      const r = replies[i++];
      if (r instanceof Error) throw r;
      return r === undefined ? {} : libraryParse(r);
    },
    renew: async () => { log.push('renew'); return {}; },
    unsubscribe: async () => { log.push('unsubscribe'); return {}; },
  };
}

describe('OnvifEventsDetector', () => {
  it('publishes start and end; renews; does not pull faster than the minimum gap; unsubscribes on stop', async () => {
    const calls: string[] = [];
    const seen: { type: string; e: DetectedEvent }[] = [];
    const det = new OnvifEventsDetector({
      cameraId: 'c'.repeat(32),
      connect: async () => scripted([
        reply([message('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' })]),
        reply([message('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'false' }), message('tns1:RuleEngine/LineDetector/Crossed', {})]),
      ], calls),
      sink: { started: (_k, e) => seen.push({ type: 'started', e }), updated: () => undefined, ended: (_k, e) => seen.push({ type: 'ended', e }) },
      timing: { minPullGapMs: 50, renewEveryMs: 100 },
    });
    const t0 = Date.now();
    while (det.pulls < 6 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
    const elapsed = Date.now() - t0;
    await det.stop();
    expect(seen.map((s) => `${s.type} ${s.e.kind}`)).toEqual(['started motion', 'ended motion', 'started line-crossing', 'ended line-crossing']);
    expect(seen.every((s) => s.e.source === 'onvif')).toBe(true);
    expect(calls[0]).toBe('create');
    expect(calls).toContain('renew');
    expect(calls.at(-1)).toBe('unsubscribe');
    // Six pulls of a device that answers at once took at least five gaps.
    expect(elapsed).toBeGreaterThanOrEqual(5 * 50 - 10);
  });

  it('a failing device: typed error, backoff, a new subscription', async () => {
    const calls: string[] = [];
    let connects = 0;
    const det = new OnvifEventsDetector({
      cameraId: 'd'.repeat(32),
      connect: async () => {
        connects++;
        if (connects === 1) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
        return scripted([new OnvifError('bad-reply', 'pull', 'not SOAP')], calls);
      },
      sink: { started: () => undefined, updated: () => undefined, ended: () => undefined },
      timing: { backoffMs: [30] },
    });
    const t0 = Date.now();
    while (connects < 3 && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 10));
    await det.stop();
    expect(connects).toBeGreaterThanOrEqual(3);
    expect(det.failures).toBeGreaterThanOrEqual(2);
    expect(det.lastError).toBeInstanceOf(OnvifError);
    expect(det.lastError?.code).toBe('bad-reply');
  });
});
