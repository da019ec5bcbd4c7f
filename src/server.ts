import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import { bindPort, type Config } from './config.js';
import { createContainer, type Container, type ContainerOptions } from './container.js';

export interface RunningServer {
  url: string;
  port: number;
  container: Container;
  close(): Promise<void>;
}

/**
 * Listens first, then builds: with PORT=0 the issuer (http://localhost:<port>) is only known once
 * the socket is bound, and koa composes its middleware when the callback is attached.
 */
export async function startServer(config: Config, opts: ContainerOptions = {}): Promise<RunningServer> {
  const server = http.createServer();
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(config.port, resolve));
  const port = (server.address() as AddressInfo).port;
  const effective = bindPort(config, port);
  let container: Container;
  try {
    container = await createContainer(effective, opts);
  } catch (err) {
    server.close();
    throw err;
  }
  server.on('request', buildApp(container).callback());
  return {
    url: `http://localhost:${port}`,
    port,
    container,
    async close() {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await container.close();
    },
  };
}
