/**
 * The real IdP, as `src/server.ts` starts it, but bound to 127.0.0.1 only. Configuration comes from
 * the environment exactly as in production (loadConfig: DATABASE_URL, REDIS_URL, IDP_<PATH>, ...);
 * bench/run.ts sets it. Started pinned to one core, with an IPC channel to the orchestrator.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { installCounters } from './instrument.js';
import { maxLifetimeMs, serveIpc } from './child.js';
import { seedTotpUsers } from './seed-totp.js';
import { hashPassword, verifyPassword } from '../../src/authn/password.js';
import { buildApp } from '../../src/app.js';
import { bindPort, loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';

const counters = process.env.BENCH_COUNT_STORE === '0' ? { pg: {}, redis: {} } : installCounters();

const config = loadConfig();
const server = http.createServer();
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const container = await createContainer(bindPort(config, port));
const callback = buildApp(container).callback();
server.on('request', (req, res) => void callback(req, res));

const ipc = serveIpc({
  counters: () => counters,
  maxLifetimeMs: maxLifetimeMs(),
  seedTotp: (req) => seedTotpUsers(container, req),
  // The login's own verify path (normalisation included), on a hash made with the login's parameters.
  async argon2(count) {
    const stored = await hashPassword('bench-argon2-probe');
    await verifyPassword(stored, 'bench-argon2-probe');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      if (!(await verifyPassword(stored, 'bench-argon2-probe'))) throw new Error('argon2id probe did not verify');
    }
    const wallMs = performance.now() - t0;
    const { user, system } = process.cpuUsage(cpu0);
    return { cpuMs: (user + system) / 1000 / count, wallMs: wallMs / count };
  },
  async close() {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await container.close();
  },
});
ipc.send({ type: 'ready', url: `http://127.0.0.1:${port}`, issuer: container.config.issuer, pid: process.pid });
