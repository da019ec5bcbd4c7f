/**
 * Prometheus metrics reveal traffic and login outcomes: they are served on their own listener,
 * bound to loopback unless the operator says otherwise, and never on the IdP's public port.
 */
import net from 'node:net';
import os from 'node:os';
import { loadConfig } from '../../src/config.js';
import { startTestIdp, type TestIdp } from '../helpers/env.js';

/** This machine's first non-loopback IPv4 address, if it has one. */
const externalAddress = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const connects = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });

describe('metrics listener', () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startTestIdp('metrics-port');
  });
  afterAll(async () => {
    await idp.stop();
  });

  test('/metrics on the public port → 404 JSON, as an outsider sees it', async () => {
    for (const accept of ['application/json', 'text/plain', '*/*']) {
      const res = await fetch(`${idp.url}/metrics`, { headers: { accept } });
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).not.toContain('idp_logins_total');
      expect(text).not.toContain('# TYPE');
    }
    const res = await fetch(`${idp.url}/metrics`, { headers: { accept: 'application/json' } });
    expect(await res.json()).toEqual({ error: 'not_found', error_description: expect.any(String) });
  });

  test('the metrics port serves Prometheus text, and nothing else', async () => {
    expect(idp.metricsUrl).toBeDefined();
    expect(new URL(idp.metricsUrl!).port).not.toBe(String(idp.port));
    await fetch(`${idp.url}/healthz`);
    const res = await fetch(`${idp.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE idp_logins_total counter$/m);
    expect(text).toMatch(/^idp_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+$/m);

    for (const path of ['/healthz', '/.well-known/openid-configuration', '/api/v1/clients']) {
      const other = await fetch(`${idp.metricsUrl}${path}`, { headers: { accept: 'application/json' } });
      expect(other.status).toBe(404);
      expect(await other.json()).toEqual({ error: 'not_found', error_description: expect.any(String) });
    }
  });

  test('by default the listener binds 127.0.0.1 only', async () => {
    const defaults = loadConfig({});
    expect(defaults.metricsHost).toBe('127.0.0.1');
    expect(defaults.metricsPort).toBe(9464);
    const url = new URL(idp.metricsUrl!);
    expect(url.hostname).toBe('127.0.0.1');
    expect(await connects('127.0.0.1', Number(url.port))).toBe(true);
    const external = externalAddress();
    // From another host the port is closed (checked on this host's own network address, when it has one).
    if (external) expect(await connects(external, Number(url.port))).toBe(false);
  });
});

describe('metrics settings', () => {
  test('METRICS_PORT and METRICS_HOST come from the environment; "off" disables the listener', async () => {
    expect(loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' })).toMatchObject({ metricsPort: 9100, metricsHost: '0.0.0.0' });
    expect(loadConfig({ METRICS_PORT: 'off' }).metricsPort).toBe('off');
    expect(() => loadConfig({ METRICS_PORT: 'none' })).toThrow(/METRICS_PORT/);
    const idp = await startTestIdp('metrics-off', 'postgres+redis', { metricsPort: 'off' });
    try {
      expect(idp.metricsUrl).toBeUndefined();
      expect((await fetch(`${idp.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${idp.url}/healthz`)).status).toBe(200);
    } finally {
      await idp.stop();
    }
  });
});
