import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Docsync } from '../../docsync.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { ApiTokenSchema, CreateTokenBody, errorResponses, LoginBody, TokenIdParams } from '../schemas.ts';

/** Login attempts one address may make per minute. */
export const LOGINS_PER_MINUTE = 60;

export const authRoutes: FastifyPluginAsyncTypebox<{ docsync: Docsync }> = async (app, { docsync }) => {
  app.post(
    '/auth/login',
    {
      // Besides the throttle of failed logins: at most 60 attempts a minute from one address, however
      // they end (refused ones are cheap, but not free).
      config: { public: true, rateLimit: { max: LOGINS_PER_MINUTE, timeWindow: 60_000 } },
      schema: {
        tags: ['auth'],
        summary: 'Log in: sets the sessionId cookie and returns the session id',
        body: LoginBody,
        response: {
          200: Type.Object({ sessionId: Type.String(), username: Type.String(), expires_at: Type.String() }),
          ...errorResponses(400, 401, 403, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { sessionId, username, expiresAt } = await docsync.auth.login(request.body.username, request.body.password, request.ip);
      void reply.setCookie(SESSION_COOKIE, sessionId, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: request.protocol === 'https',
        expires: new Date(expiresAt),
      });
      return { sessionId, username, expires_at: expiresAt };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End this session (called with an API token: revoke that token)',
        response: { 204: Type.Null(), ...errorResponses(401, 403) },
      },
    },
    async (request, reply) => {
      if (request.sessionId) docsync.auth.logout(request.sessionId);
      if (request.apiToken) docsync.auth.revokeApiTokenSecret(request.apiToken);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who this session belongs to',
        response: { 200: Type.Object({ username: Type.String() }), ...errorResponses(401) },
      },
    },
    async (request) => ({ username: request.principal!.username }),
  );

  app.get(
    '/auth/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: "The caller's API tokens (never their secrets)",
        response: { 200: Type.Object({ tokens: Type.Array(ApiTokenSchema) }), ...errorResponses(401) },
      },
    },
    async (request) => ({ tokens: docsync.auth.listApiTokens(request.principal!.username) }),
  );

  app.post(
    '/auth/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an API token (Authorization: Bearer <token>); the token is shown only in this answer',
        body: CreateTokenBody,
        response: { 201: Type.Intersect([ApiTokenSchema, Type.Object({ token: Type.String() })]), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { token, info } = docsync.auth.issueApiToken(request.principal!.username, request.body.name);
      return reply.code(201).send({ ...info, token });
    },
  );

  app.delete(
    '/auth/tokens/:id',
    {
      schema: {
        tags: ['auth'],
        summary: "Revoke one of the caller's API tokens (effective on the next request)",
        params: TokenIdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      docsync.auth.revokeApiToken(request.principal!.username, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
