import type { FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.ts';
import type { AuthService } from '../services/auth-service.ts';
import type { Principal } from '../store/auth-repository.ts';

export const SESSION_COOKIE = 'sessionId';
export const SESSION_HEADER = 'x-session-id';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The session id the request authenticated with (absent for API tokens). */
    sessionId?: string;
    /** The API token the request authenticated with (absent for sessions). */
    apiToken?: string;
    /** How the request authenticated: only a cookie is sent by a browser on another page's behalf. */
    authenticatedBy?: 'cookie' | 'header' | 'token';
  }
  interface FastifyContextConfig {
    /** Routes open without a session: only health and login. */
    public?: boolean;
  }
}

/**
 * `onRequest` hook for the API: a route is open only when marked `config.public`; every other one
 * needs `Authorization: Bearer <token>`, an `X-Session-Id` header or the `sessionId` cookie.
 */
export function authenticate(auth: AuthService) {
  return async function authHook(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    if (request.routeOptions.config.public) return;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      request.principal = auth.authenticateToken(bearer);
      request.authenticatedBy = 'token';
      if (request.principal) request.apiToken = bearer;
    } else {
      const header = request.headers[SESSION_HEADER];
      const fromHeader = typeof header === 'string' ? header : undefined;
      const sessionId = fromHeader ?? request.cookies[SESSION_COOKIE];
      if (sessionId) {
        request.principal = auth.authenticateSession(sessionId);
        if (request.principal) {
          request.sessionId = sessionId;
          request.authenticatedBy = fromHeader !== undefined ? 'header' : 'cookie';
        }
      }
    }
    if (!request.principal) throw new UnauthorizedError('A valid session or API token is required');
  };
}
