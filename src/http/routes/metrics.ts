import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Docsync } from '../../docsync.ts';
import type { SseHub } from '../../sse/sse-hub.ts';
import { authenticate } from '../auth.ts';

/**
 * `GET /metrics`, Prometheus text format, where Prometheus looks by default. Protected like the
 * API (a session or an API token) or by `DOCSYNC_METRICS_TOKEN` as a bearer token: a scrape-only
 * secret for the Prometheus config, which opens nothing else (an API token would open everything).
 */
export async function metricsRoutes(app: FastifyInstance, { docsync, sse }: { docsync: Docsync; sse: SseHub }): Promise<void> {
  const { metrics, fileRepository: files, config } = docsync;
  metrics.readFrom({
    files: () => ({ live: files.liveCount(), unsynced: files.unsyncedCount(), conflict: files.countByStatus('conflict') }),
    sseClients: () => sse.connectedCount,
  });
  metrics.withProcessMetrics();
  const apiAuth = authenticate(docsync.auth);
  app.get(
    '/metrics',
    {
      schema: { hide: true },
      onRequest: async (request, reply) => {
        const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
        if (config.metricsToken !== undefined && bearer !== undefined && sameSecret(bearer, config.metricsToken)) return;
        await apiAuth(request, reply);
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()),
  );
}

/** Compared by digest: same length whatever was sent, in constant time. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
