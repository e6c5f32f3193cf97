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
 * A CSP for the content itself, in case a browser renders it after all: a sandbox (opaque origin: no
 * script, no cookies, no forms, no top navigation) that may fetch nothing. `img-src 'self' data:` lets
 * an image document show its image and `style-src 'unsafe-inline'` lets the browser style its own
 * image and text viewers. Chromium's PDF viewer still shows a PDF under it (checked in
 * test/browser/hostile.test.ts).
 */
const SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'";
/** An attachment is never framed, by anyone. */
export const CONTENT_CSP = `${SANDBOX_CSP}; frame-ancestors 'none'`;
/**
 * Passive inline content may be framed by docsync's own page (the file pane previews a PDF in a
 * frame with the browser's viewer) and by no one else; the sandbox still applies inside the frame.
 */
export const INLINE_CONTENT_CSP = `${SANDBOX_CSP}; frame-ancestors 'self'`;

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
    .header('Content-Security-Policy', disposition === 'inline' ? INLINE_CONTENT_CSP : CONTENT_CSP)
    // Helmet's `DENY` for every answer, relaxed to match the CSP (for browsers that only read this one).
    .header('X-Frame-Options', disposition === 'inline' ? 'SAMEORIGIN' : 'DENY');
}
