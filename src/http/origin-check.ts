import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../errors.ts';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Same-site CSRF guard (README.md#security). A browser attaches the session cookie to a request that another
 * page makes — SameSite=Lax does not help when that page is on another port of the same host — but it
 * always names that page in `Origin` on a cross-origin POST/PUT/PATCH/DELETE (form or fetch). So a
 * state-changing request that rides on the cookie must come from our own origin. Requests that carry
 * `X-Session-Id` or `Authorization: Bearer` were built by a script that already holds the secret and
 * need no check.
 *
 * Without `Origin` and `Referer`, a cookie-authenticated write is refused too: no current browser
 * sends such a request, and a non-browser client can send `X-Session-Id` instead. Login (no cookie
 * yet) is refused only when it names another origin: a browser always does for a cross-origin POST,
 * while API clients log in without one to get a session id.
 *
 * Runs after `authenticate`, as an `onRequest` hook of the API.
 */
export function checkOrigin() {
  return async function originHook(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    if (!STATE_CHANGING.has(request.method)) return;
    const claimed = claimedOrigin(request);
    const own = ownOrigin(request);
    if (request.routeOptions.config.public) {
      if (claimed !== undefined && claimed !== own) throw crossOrigin(claimed);
      return;
    }
    if (request.authenticatedBy !== 'cookie') return;
    if (claimed === undefined) {
      throw new ForbiddenError(
        'cross_origin',
        'A request authenticated by the session cookie must carry an Origin header (or send X-Session-Id instead)',
      );
    }
    if (claimed !== own) throw crossOrigin(claimed);
  };
}

function crossOrigin(claimed: string): ForbiddenError {
  return new ForbiddenError('cross_origin', `Request from another origin (${claimed}) refused: write from docsync's own page`);
}

/** `Origin`, or the origin of `Referer` when `Origin` is absent; `null` (an opaque origin) stays `"null"`. */
function claimedOrigin(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') return origin.toLowerCase();
  const referer = request.headers.referer;
  if (typeof referer !== 'string' || referer === '') return undefined;
  try {
    return new URL(referer).origin.toLowerCase();
  } catch {
    return 'null';
  }
}

/** scheme://host[:port] as this server is addressed (the `Host` header), the default port left out as browsers do. */
function ownOrigin(request: FastifyRequest): string {
  const host = request.headers.host ?? '';
  try {
    return new URL(`${request.protocol}://${host}`).origin.toLowerCase();
  } catch {
    return `${request.protocol}://${host}`.toLowerCase();
  }
}
