/**
 * The page in Chromium through nginx with TLS at https://localhost:PORT/docsync/ (the shipped
 * deploy/nginx-docsync.conf, see test/deploy/nginx-proxy.test.ts): it logs in, goes live over SSE,
 * uploads and syncs, and every request it makes stays under the prefix.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingProxyParts, startTlsProxy, type TlsProxy } from '../support/tls-proxy.ts';
import { chromiumAvailable, ensureWebBuild, launchChromium, screenshot, startInstance, type BrowserInstance } from './harness.ts';

const PASSWORD = 'behind the proxy';
const missing = missingProxyParts();
if (missing.length > 0) {
  const message = `Browser test behind nginx NOT RUN: missing ${missing.join(', ')} (scripts/install-system-deps.sh)`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires it. ${message}`);
  console.warn(`\n${'!'.repeat(78)}\n!!! ${message}\n${'!'.repeat(78)}\n`);
}
const ready = chromiumAvailable() && missing.length === 0;

describe.skipIf(!ready)('the page in Chromium behind nginx with TLS, under /docsync/', () => {
  let remoteDir: string;
  let instance: BrowserInstance;
  let proxy: TlsProxy;
  let browser: Browser;

  beforeAll(async () => {
    ensureWebBuild();
    remoteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-proxy-remote-'));
    instance = await startInstance(PASSWORD, { DOCSYNC_REMOTE: pathToFileURL(remoteDir).href, DOCSYNC_TRUST_PROXY: '127.0.0.1' });
    proxy = await startTlsProxy(Number(new URL(instance.url).port));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
    await instance?.close();
    fs.rmSync(remoteDir, { recursive: true, force: true });
  });

  it('logs in, goes live, uploads and syncs; every request stays under /docsync/', async () => {
    // The certificate is self-signed: Chromium is told to accept it, as a browser would after import.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith('data:')) requests.push(request.url());
    });
    page.on('response', (response) => {
      // 401 for "who am I?" before login is the page's normal start.
      if (response.status() >= 400 && !response.url().endsWith('/auth/me')) problems.push(`${response.status()} ${response.url()}`);
    });
    try {
      await page.goto(`${proxy.origin}/docsync/`);
      await page.locator('#login-form').waitFor();
      await page.fill('#login-username', 'admin');
      await page.fill('#login-password', PASSWORD);
      await page.press('#login-password', 'Enter');
      await page.locator('#app-view').waitFor();

      const cookie = (await context.cookies()).find((c) => c.name === 'sessionId');
      expect(cookie).toMatchObject({ secure: true, httpOnly: true, path: '/docsync/' });
      // The event stream, through nginx, opens (and so would deliver).
      await page.locator('#live-indicator[data-state="live"]').waitFor();

      await page.setInputFiles('#file-input', { name: 'via-nginx.txt', mimeType: 'text/plain', buffer: Buffer.from('through TLS and a prefix') });
      await page.locator('.file-list', { hasText: 'via-nginx.txt' }).waitFor();
      await page.getByRole('button', { name: 'Sync now' }).click();
      const summary = await page.locator('#sync-summary').textContent();
      expect(summary).toBe('Synced: 1 uploaded');
      // Links to content resolve under the prefix too.
      const href = await page.locator('a.filename', { hasText: 'via-nginx.txt' }).evaluate((a) => (a as HTMLAnchorElement).href);
      expect(href).toMatch(new RegExp(`^${proxy.origin}/docsync/api/v1/files/[^/]+/content$`));
      const content = await page.evaluate(async (url) => (await fetch(url)).text(), href);
      expect(content).toBe('through TLS and a prefix');
      await screenshot(page, 'behind-proxy');

      expect(problems).toEqual([]);
      expect(requests.length).toBeGreaterThan(5);
      const outside = requests.filter((url) => !url.startsWith(`${proxy.origin}/docsync/`));
      expect(outside).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
