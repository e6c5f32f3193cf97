/**
 * What the browser test needs around the page: a fresh build of web/, docsync instances on real
 * ports behind one WebDAV server, and headless Chromium (Debian's, driven by playwright-core).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { openDocsync, type Docsync, type DocsyncOptions } from '../../src/docsync.ts';
import { startServer } from '../../src/http/server.ts';
import { availableServerKinds, type WebDavTestServer } from '../support/webdav-servers.ts';

export const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WEB = path.join(REPO, 'web');
export const ARTIFACTS = path.join(REPO, 'test-artifacts', 'browser');

/** Chromium is required in CI; locally its absence skips the browser tests with a loud warning. */
export function chromiumAvailable(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  const banner = '!'.repeat(78);
  const message = `\n${banner}\n!!! Browser tests NOT RUN: ${CHROMIUM} is missing (apt-get install chromium)\n${banner}\n`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires Chromium.${message}`);
  console.warn(message);
  return false;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'node_modules') newest = Math.max(newest, newestMtime(full));
    } else {
      newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  }
  return newest;
}

/** Builds web/dist when it is missing or older than the page's sources (the server serves it as built). */
export function ensureWebBuild(): void {
  const index = path.join(WEB, 'dist', 'index.html');
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestMtime(WEB)) return;
  execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface BrowserInstance {
  docsync: Docsync;
  url: string;
  close(): Promise<void>;
}

/** The environment that makes an instance sync through `webdav`, under `root` there. */
export function webDavEnv(webdav: WebDavTestServer, root: string): Record<string, string> {
  return {
    WEBDAV_BASE_URL: webdav.baseUrl,
    WEBDAV_USERNAME: webdav.username,
    WEBDAV_PASSWORD: webdav.password,
    WEBDAV_REMOTE_ROOT: root,
  };
}

/** One docsync instance with HTTP on a free port and no background syncs; `admin` has `password`. */
export async function startInstance(password: string, env: Record<string, string>, options: DocsyncOptions = {}): Promise<BrowserInstance> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-browser-'));
  const docsync = openDocsync(
    loadConfig({
      DOCSYNC_DATA_DIR: dataDir,
      PORT: '0',
      DOCSYNC_ADMIN_PASSWORD: password,
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_LOG_LEVEL: 'silent',
      ...env,
    }),
    options,
  );
  await docsync.auth.ensureAdmin(password);
  const server = await startServer(docsync);
  return {
    docsync,
    url: server.url,
    close: async () => {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  // playwright-core gives every launch a fresh temporary profile (user data dir) and removes it on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page in its own context: cookies are per host, not per port, so two instances on 127.0.0.1
 * need two cookie jars. Page errors and failed requests are collected for the assertions.
 */
export async function openPage(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: false });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser logs every 4xx it fetches; 401s before login and for a wrong password are expected.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`${name}: console error: ${message.text()}`);
  });
  return { context, page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core's own script, run in the page by the DevTools protocol (the page's CSP allows no injected script tag). */
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * The page's accessibility problems by axe-core (WCAG 2 A and AA rules), as they stand now: open the
 * dialogs, menus and panels to check before calling it. Returns the serious and critical ones.
 */
export async function seriousA11yViolations(page: Page): Promise<A11yViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document, options: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).flatMap((n) => n.target) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Apache (mod_dav) behind the two-instance browser tests: required in CI, else skipped loudly. */
export function apacheAvailable(): boolean {
  if (availableServerKinds().includes('apache')) return true;
  const message = '!!! Browser tests NOT RUN: Apache (mod_dav) is missing; run scripts/install-system-deps.sh';
  if (process.env.CI === 'true') throw new Error(`CI=true requires Apache. ${message}`);
  console.warn(`\n${message}\n`);
  return false;
}

/** Logs `admin` in with the login form and waits for the app. */
export async function logIn(page: Page, url: string, password: string): Promise<void> {
  await page.goto(url);
  await page.locator('#login-form').waitFor();
  await page.fill('#login-username', 'admin');
  await page.fill('#login-password', password);
  await page.press('#login-password', 'Enter');
  await page.locator('#app-view').waitFor();
}

/** A one-page PDF saying `text` (plain ASCII), offsets computed so viewers need no repair. */
export function tinyPdf(text = 'docsync PDF inline'): Buffer {
  const stream = `BT /F1 24 Tf 40 100 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
