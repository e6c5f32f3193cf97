import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import type { Docsync } from '../docsync.ts';
import { TooManyRequestsError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { authenticate } from './auth.ts';
import { checkOrigin } from './origin-check.ts';
import { DebugRequestLog, logSyncs } from './logging.ts';
import { installErrorHandler } from './errors.ts';
import { installSecurityHeaders, swaggerUiCsp } from './security-headers.ts';
import { authRoutes } from './routes/auth.ts';
import { bulkRoutes } from './routes/bulk.ts';
import { fileRoutes } from './routes/files.ts';
import { healthRoutes } from './routes/health.ts';
import { historyRoutes } from './routes/history.ts';
import { sseRoutes, sessionKeyOf } from './routes/sse.ts';
import { syncRoutes } from './routes/sync.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { SseHub } from '../sse/sse-hub.ts';
import { systemTimers } from '../domain/clock.ts';
import { RemoteWatch } from '../sync/remote-watch.ts';

export const API_PREFIX = '/api/v1';

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
  /** SSE keep-alive interval (30 s by default, docs/design.md#events-sse). */
  sseKeepAliveMs?: number;
  /** Background status check interval (`DOCSYNC_STATUS_INTERVAL` by default; 0 = off). */
  statusCheckMs?: number;
}

/** A route as registered, for tests that walk the whole table (e.g. "every route needs a session"). */
export interface RouteEntry {
  method: string;
  url: string;
  public: boolean;
}

export { loggerOptions } from './logging.ts';

/**
 * Bodies are validated strictly (no type coercion: `"5"` is not a number); query strings and params
 * arrive as text, so they are coerced.
 */
function validatorCompiler() {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  const coercing = new Ajv({ allErrors: false, coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false });
  addFormats.default(strict);
  addFormats.default(coercing);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

/** `body/resolution must be equal to one of the allowed values: local_wins, remote_wins, keep_both`. */
function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const text = errors
    .map((e) => {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
      const field = `${dataVar}${e.instancePath}`;
      return `${field} ${e.message ?? 'is not valid'}${allowed ? `: ${allowed.join(', ')}` : ''}`;
    })
    .join('; ');
  return new Error(text);
}

export type DocsyncApp = FastifyInstance & { routeTable: RouteEntry[]; sse: SseHub; remoteWatch: RemoteWatch };

export async function buildApp(docsync: Docsync, options: AppOptions = {}): Promise<DocsyncApp> {
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new DebugRequestLog(),
    bodyLimit: 1024 * 1024,
    // Behind nginx: X-Forwarded-Proto makes the session cookie Secure and the origin check see https;
    // X-Forwarded-For gives the login throttle the client's address instead of the proxy's.
    trustProxy: docsync.config.trustProxy,
    schemaErrorFormatter: formatValidationErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const routeTable: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      routeTable.push({ method, url: route.url, public: route.config?.public === true });
    }
  });

  app.setValidatorCompiler(validatorCompiler());
  installErrorHandler(app, (error) => docsync.health.note(error));
  await installSecurityHeaders(app);
  await app.register(fastifyCookie);
  // Only routes that ask for it (login): a plain per-address cap in front of the per-user throttle.
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new TooManyRequestsError(`Too many requests from this address; try again in ${Math.ceil(context.ttl / 1000)} s`, context.ttl / 1000),
  });
  await app.register(fastifyMultipart, {
    // Filenames are data: keep `../../etc/passwd` as sent (it never becomes a path here).
    preservePath: true,
    limits: { fileSize: docsync.config.maxUploadBytes, files: 1, fields: 10, fieldSize: 128 * 1024, parts: 12 },
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'docsync', description: 'Document store with WebDAV sync', version: VERSION },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'header', name: 'X-Session-Id' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'sessionId' },
          token: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { cookie: [] }, { token: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: swaggerUiCsp });
  await registerWebPage(app);

  const sse = new SseHub({
    clock: docsync.clock,
    keepAliveMs: options.sseKeepAliveMs ?? docsync.config.sseKeepAliveSeconds * 1000,
    goneTtlMs: 5 * 60 * 1000,
    bufferSize: 1000,
    queueLimit: 500,
  });
  sse.start();
  const unsubscribe = forwardSyncEvents(docsync, sse, app.log);
  const stopSyncLog = logSyncs(docsync, app.log);
  // Open pages hear of a new remote version without asking: one check per interval for all of them.
  const remoteWatch = new RemoteWatch({
    status: () => docsync.sync.status(),
    active: () => sse.connectedCount > 0,
    busy: () => docsync.sync.inProgress,
    announce: (status) => sse.publish('syncStatus', status),
    timers: systemTimers,
  });
  if (docsync.sync.remoteConfigured) remoteWatch.start(options.statusCheckMs ?? docsync.config.statusIntervalSeconds * 1000);
  // Streams never end by themselves: end them before the server waits for open connections.
  app.addHook('preClose', async () => {
    remoteWatch.close();
    unsubscribe();
    stopSyncLog();
    sse.closeAll();
  });

  await app.register(
    async (api) => {
      api.addHook('onRequest', authenticate(docsync.auth));
      api.addHook('onRequest', checkOrigin());
      await api.register(healthRoutes, { docsync });
      await api.register(authRoutes, { docsync });
      await api.register(fileRoutes, { docsync });
      await api.register(bulkRoutes, { docsync });
      await api.register(historyRoutes, { docsync });
      await api.register(syncRoutes, { docsync });
      await api.register(sseRoutes, { hub: sse });
    },
    { prefix: API_PREFIX },
  );
  await app.register(metricsRoutes, { docsync, sse });
  await app.ready();
  return Object.assign(app, { routeTable, sse, remoteWatch });
}

/**
 * Sync events to SSE (docs/design.md#events-sse): progress, messages and errors go to the session that started the
 * sync (to everyone for background syncs); completion, conflicts and changed files to everyone.
 */
function forwardSyncEvents(docsync: Docsync, sse: SseHub, log: FastifyBaseLogger): () => void {
  return docsync.sync.subscribe((event) => {
    // Invalid remote rows are news for whoever runs the server, not only for the page: once per sync.
    if (event.type === 'syncComplete' && event.data.skipped_rows > 0) {
      log.warn({ skipped_rows: event.data.skipped_rows }, event.data.message);
    }
    const toOrigin = event.type === 'syncProgress' || event.type === 'syncMessage' || event.type === 'syncError';
    const audience = toOrigin && event.origin ? sessionKeyOf(event.origin, 0) : undefined;
    sse.publish(event.type, event.data, audience);
  });
}

/** The built web page (`npm run build:web`, run by `npm ci`): `web/dist`, two levels above this file. */
const WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Serves the page at `/`; without a build, `/` leads to the API documentation instead (a relative
 * redirect: under a proxy's sub-path it stays there).
 */
async function registerWebPage(app: FastifyInstance): Promise<void> {
  if (!fs.existsSync(`${WEB_ROOT}/index.html`)) {
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('docs'));
    return;
  }
  await app.register(fastifyStatic, { root: WEB_ROOT, prefix: '/', index: 'index.html', wildcard: false });
}
