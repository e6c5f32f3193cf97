import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The page docsync serves at `/` (from web/dist). `npx vite --config web/vite.config.ts` runs a dev
 * server that forwards the API to a running docsync (DOCSYNC_URL, default http://127.0.0.1:8080), so
 * the page and the API share one origin there too (the session cookie needs it).
 */
export default defineConfig({
  root,
  // Relative asset URLs: the page also works under a reverse proxy's sub-path (`/docsync/`).
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Small enough that one request beats several; keeps the served folder to index.html + 2 assets.
    assetsInlineLimit: 4096,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/api': { target: process.env.DOCSYNC_URL ?? 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
});
