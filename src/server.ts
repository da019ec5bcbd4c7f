import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, buildMetricsApp } from './app.js';
import { bindPort, type Config } from './config.js';
import { createContainer, type Container, type ContainerOptions } from './container.js';
import { StartupError } from './lib/startup-error.js';

export interface RunningServer {
  url: string;
  port: number;
  /** The Prometheus listener (loopback unless configured otherwise); undefined when metrics are off. */
  metricsUrl: string | undefined;
  container: Container;
  close(): Promise<void>;
}

/**
 * Until the app is built, every request gets a prompt 503 with Retry-After (RFC 9110 §15.6.4) that
 * clients and load balancers retry, rather than a connection left waiting with no answer.
 */
const startingUp: http.RequestListener = (_req, res) => {
  res.writeHead(503, {
    'content-type': 'application/json; charset=utf-8',
    'retry-after': '2',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'the identity provider is starting, try again shortly' }));
};

/** A server whose request handler is swapped once the app exists; connections opened earlier switch too. */
/** koa's callback() answers its own errors, so the promise it returns is not awaited. */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

function switchableServer(): { server: http.Server; serve(listener: Handler): void } {
  let handler: Handler = startingUp;
  const server = http.createServer((req, res) => void handler(req, res));
  return {
    server,
    serve: (listener) => {
      handler = listener;
    },
  };
}

/** Binds the socket; a port that is taken or forbidden is the operator's to fix, said in one line. */
async function listen(server: http.Server, what: string, port: number, host?: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      const where = `${what} ${host ? `${host}:` : ''}${port}`;
      if (err.code === 'EADDRINUSE') reject(new StartupError(`${where} is already in use: stop the process using it or choose another port`));
      else if (err.code === 'EACCES') reject(new StartupError(`${where}: permission denied (ports below 1024 need privileges)`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new StartupError(`${where}: no such local address`));
      else reject(err);
    };
    server.once('error', fail).listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

const closeServer = (server: http.Server) =>
  new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });

/**
 * Listens first, then builds: with PORT=0 the issuer (http://localhost:<port>) is only known once
 * the socket is bound, and koa composes its middleware when the callback is attached. Both ports are
 * bound before the (slow) build so that a busy port fails at once.
 */
export async function startServer(config: Config, opts: ContainerOptions = {}): Promise<RunningServer> {
  const main = switchableServer();
  main.server.keepAliveTimeout = 65_000;
  const metrics = config.metricsPort === 'off' ? undefined : { port: config.metricsPort, ...switchableServer() };
  let container: Container | undefined;
  try {
    const port = await listen(main.server, 'PORT', config.port);
    const metricsPort = metrics && (await listen(metrics.server, 'METRICS_PORT', metrics.port, config.metricsHost));
    container = await createContainer(bindPort(config, port), opts);
    main.serve(buildApp(container).callback());
    metrics?.serve(buildMetricsApp(container).callback());
    const servers = [main.server, ...(metrics ? [metrics.server] : [])];
    const running = container;
    return {
      url: `http://localhost:${port}`,
      port,
      metricsUrl:
        metricsPort === undefined ? undefined : `http://${config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost}:${metricsPort}`,
      container: running,
      async close() {
        await Promise.all(servers.map(closeServer));
        await running.close();
      },
    };
  } catch (err) {
    await Promise.all([main.server, ...(metrics ? [metrics.server] : [])].map(closeServer));
    await container?.close();
    throw err;
  }
}
