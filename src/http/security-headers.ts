import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The page's policy: its script and styles are files Vite emits under /assets (no inline script),
 * its one inline resource is the `data:` favicon. A route that sets its own policy keeps it
 * (file content: a sandbox; /docs: swagger-ui's hashes).
 */
export const PAGE_CSP_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", "data:"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Headers on every answer (README.md#security), by `@fastify/helmet`: nosniff, `X-Frame-Options: DENY`,
 * `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy: same-origin` and the page's CSP,
 * without `upgrade-insecure-requests` (docsync is often plain HTTP on loopback). Helmet sets them
 * when a request arrives, so a route that sets its own policy later (file content, /docs) keeps it.
 */
export async function installSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    // Plain HTTP on loopback is the default deployment: no HSTS from docsync itself (a TLS proxy in front sets it).
    strictTransportSecurity: false,
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
