import type { FastifyInstance } from 'fastify';
import { describeRemote } from '../config.ts';
import type { Docsync } from '../docsync.ts';
import { sqlite } from '../store/sqlite.ts';
import { buildApp, loggerOptions } from './app.ts';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Listens, and shuts down cleanly on SIGINT/SIGTERM: in-flight requests finish, then the database closes. */
export async function startServer(docsync: Docsync, options: { handleSignals?: boolean } = {}): Promise<RunningServer> {
  const app = await buildApp(docsync, { logger: loggerOptions(docsync.config.logLevel, docsync.config.logFormat) });
  const address = await app.listen({ port: docsync.config.port, host: docsync.config.host });
  app.log.info(
    { dataDir: docsync.config.dataDir, remote: describeRemote(docsync.config.remote), instanceId: docsync.instanceId, node: process.version, sqlite: sqlite.description },
    'docsync is running',
  );
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    docsync.sync.stopPeriodic();
    // In-flight requests get a few seconds to finish; a stalled client must not hold shutdown hostage.
    const force = setTimeout(() => app.server.closeAllConnections(), 5000);
    force.unref();
    closing ??= app
      .close()
      .then(() => docsync.sync.idle())
      .then(() => {
        clearTimeout(force);
        docsync.close();
      });
    return closing;
  };
  if (options.handleSignals) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        app.log.info({ signal }, 'shutting down');
        void close().then(() => process.exit(0));
      });
    }
  }
  return { app, url: address, close };
}
