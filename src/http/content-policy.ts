import contentDisposition from 'content-disposition';
import type { FastifyReply } from 'fastify';
import { mimeTypeOf } from '../domain/file.ts';

/**
 * How stored content is handed to a browser — the one place that decides it. Anyone can put bytes
 * here (an upload, a synced row from another instance), so nothing the bytes or their row claim is
 * trusted: the type comes from the filename, and only types a browser renders passively (no script)
 * are shown inline. Everything else — HTML, SVG, XML, JavaScript, unknown — is a download.
 */

/** Rendered without running anything: PDF (the browser's viewer) and raster images. */
const PASSIVE_INLINE_TYPES = new Set([
  'application/pdf',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
]);

/**
 * A CSP for the content itself, in case a browser renders it after all: a sandbox (unique origin,
 * no script, no forms, no top navigation) with nothing to fetch. `plugin-types`-free: Chromium's PDF
 * viewer is an extension and needs `object-src`/`img-src` only for its own frame, which the sandbox
 * leaves to it; images need `img-src 'self'` to show when opened directly, `style-src 'unsafe-inline'`
 * lets the browser's own image/text viewer style its page.
 */
export const CONTENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

export interface ContentPresentation {
  contentType: string;
  disposition: 'inline' | 'attachment';
}

/** The Content-Type and disposition for a file named `filename`. */
export function presentationOf(filename: string): ContentPresentation {
  const type = mimeTypeOf(filename);
  if (PASSIVE_INLINE_TYPES.has(type)) return { contentType: type, disposition: 'inline' };
  if (type === 'text/plain') return { contentType: 'text/plain; charset=utf-8', disposition: 'inline' };
  return { contentType: type, disposition: 'attachment' };
}

/** Sets the headers that make a content response safe to open from docsync's origin. */
export function applyContentPolicy(reply: FastifyReply, filename: string): void {
  const { contentType, disposition } = presentationOf(filename);
  void reply
    .header('Content-Type', contentType)
    .header('Content-Disposition', contentDisposition(filename, { type: disposition }))
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Security-Policy', CONTENT_CSP);
}
