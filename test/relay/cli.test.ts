import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTEN, parseListen, parseRelayArgs, runRelayCli } from '../../relay/cli.ts';
import { RawClient } from './helpers.ts';

describe('relay cli', () => {
  it('parses --listen', () => {
    expect(DEFAULT_LISTEN).toBe('127.0.0.1:8787');
    expect(parseRelayArgs([])).toEqual({ host: '127.0.0.1', port: 8787, publicHosts: [], nats: [], natsPrefix: undefined, limits: {}, verbose: false });
    expect(parseRelayArgs(['--listen', '0.0.0.0:9000'])).toMatchObject({ host: '0.0.0.0', port: 9000 });
    expect(parseRelayArgs(['--listen=[::1]:9001', '--public-host', 'relay.example', '--verbose'])).toEqual({
      host: '::1',
      port: 9001,
      publicHosts: ['relay.example'],
      nats: [],
      natsPrefix: undefined,
      limits: {},
      verbose: true,
    });
    expect(parseRelayArgs(['--limit', 'maxConnectionsPerAddress=5000', '--limit=maxHandshakesPerAddress=100']).limits).toEqual({
      maxConnectionsPerAddress: 5000,
      maxHandshakesPerAddress: 100,
    });
    expect(() => parseRelayArgs(['--limit', 'noSuchLimit=1'])).toThrow(/unknown option/);
    expect(() => parseRelayArgs(['--limit', 'maxConnections=x'])).toThrow(/NAME=VALUE/);
    expect(parseRelayArgs(['--nats', 'nats://127.0.0.1:4222,nats://10.0.0.2:4222', '--nats=tls://n3:4222'])).toMatchObject({
      nats: ['nats://127.0.0.1:4222', 'nats://10.0.0.2:4222', 'tls://n3:4222'],
    });
    expect(() => parseRelayArgs(['--nats', 'http://x'])).toThrow(/nats:\/\//);
    expect(() => parseRelayArgs(['--nats-prefix', 'a.b'])).toThrow(/needs --nats/);
    expect(() => parseListen('localhost')).toThrow(/HOST:PORT/);
    expect(() => parseListen('127.0.0.1:70000')).toThrow(/HOST:PORT/);
    expect(() => parseRelayArgs(['--listen'])).toThrow(/needs a value/);
    expect(() => parseRelayArgs(['--bogus'])).toThrow(/unknown option --bogus/);
    expect(() => parseRelayArgs(['--listen', '--verbose'])).toThrow(/--listen needs a value/);
    expect(() => parseRelayArgs(['--verbose=yes'])).toThrow(/takes no value/);
    expect(() => parseRelayArgs(['extra'])).toThrow(/unexpected argument "extra"/);
  });

  it('prints one line, serves, and stops on the stop signal', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let stop!: () => void;
    const stopSignal = new Promise<void>((resolve) => (stop = resolve));
    const running = runRelayCli(['--listen', '127.0.0.1:0'], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), stopSignal });
    while (out.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(out).toHaveLength(1);
    const m = /^relay listening on (ws:\/\/127\.0\.0\.1:(\d+)\/v1)$/.exec(out[0] as string);
    expect(m).not.toBeNull();
    const client = await RawClient.login((m as RegExpExecArray)[1] as string);
    expect(await client.call({ type: 'ping', requestId: 0 })).toBe('ok');
    stop();
    expect(await running).toBe(0);
    expect((await client.closed).code).toBe(4010);
    expect(err.every((l) => JSON.parse(l).event !== undefined)).toBe(true);
  });

  it('answers --help on stdout with exit 0', async () => {
    const out: string[] = [];
    expect(await runRelayCli(['--help'], { stdout: (l) => out.push(l), stderr: () => {} })).toBe(0);
    expect(out.join('\n')).toMatch(/^usage: vigil relay \[--listen HOST:PORT\]/);
  });

  it('exits 2 on bad arguments', async () => {
    const err: string[] = [];
    expect(await runRelayCli(['--listen', 'nope'], { stdout: () => {}, stderr: (l) => err.push(l) })).toBe(2);
    expect(err.join('\n')).toMatch(/HOST:PORT/);
  });
});
