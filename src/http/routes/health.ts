import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Docsync } from '../../docsync.ts';
import { VERSION } from '../../version.ts';

const Unhealthy = Type.Object({ status: Type.Literal('unhealthy'), version: Type.String(), message: Type.String() });

export const healthRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness; needs no session. 503 when the local database is corrupt or failing',
        response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }), 503: Unhealthy },
      },
    },
    async (_request, reply) => {
      const problem = docsync.health.problem();
      if (problem) return reply.status(503).send({ status: 'unhealthy' as const, version: VERSION, message: problem.message });
      return { status: 'ok' as const, version: VERSION };
    },
  );
};
