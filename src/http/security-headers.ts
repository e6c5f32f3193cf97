import type { FastifyInstance } from 'fastify';

/**
 * Headers on every answer (SPEC §10), set by one `onSend` hook. The same set `@fastify/helmet`
 * would give with the options below; swapping to helmet means replacing `installSecurityHeaders`
 * by `app.register(helmet, { contentSecurityPolicy: { directives: PAGE_CSP_DIRECTIVES }, … })`.
 */

/**
 * The page's policy: its script and styles are files Vite emits under /assets (no inline script),
 * its one inline resource is the `data:` favicon. A route that sets its own policy keeps it
 * (file content: a sandbox; /docs: swagger-ui's hashes).
 */
export const PAGE_CSP_DIRECTIVES: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'self'",
  'frame-ancestors': "'none'",
};

export const PAGE_CSP = Object.entries(PAGE_CSP_DIRECTIVES)
  .map(([name, value]) => `${name} ${value}`)
  .join('; ');

const ALWAYS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(ALWAYS)) void reply.header(name, value);
    if (!reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });
}

/**
 * swagger-ui's own policy (`staticCSP`), adjusted: no `upgrade-insecure-requests` (docsync is often
 * plain HTTP on loopback), no framing, and inline styles, which swagger-ui sets from its script
 * (styles cannot run code; its script stays `'self'`).
 */
export function swaggerUiCsp(header: string): string {
  return header
    .replace(/\s*upgrade-insecure-requests;?/, '')
    .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
    .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
}
