/**
 * Conflicts you can judge, and a page that stays honest (issue 13), in headless Chromium against two
 * docsync instances syncing through a real Apache WebDAV server: a conflict shows the fields that
 * differ and a side-by-side line diff; merging the labels resolves it and the next sync shares the
 * union; the badge turns to "remote has changes" when the other instance pushes, with no reload and
 * no polling by the page; sync progress shows files and bytes. Screenshots in
 * test-artifacts/browser-conflicts/ (its own folder: web.test.ts clears test-artifacts/browser).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebDavServer, type WebDavTestServer } from '../support/webdav-servers.ts';
import {
  apacheAvailable,
  chromiumAvailable,
  ensureWebBuild,
  launchChromium,
  logIn,
  openPage,
  startInstance,
  tinyPdf,
  webDavEnv,
  type BrowserInstance,
} from './harness.ts';

const PASSWORD = 'browser test password';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/browser-conflicts', import.meta.url));
const body = (text: string) => Readable.from([Buffer.from(text)]);


const ready = chromiumAvailable() && apacheAvailable();

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}


const badge = (page: Page, text: string) => page.locator('#status-badge').filter({ hasText: text }).waitFor();

/**
 * No axe-core in node_modules, so the checks that matter here by hand: every control in `scope` has
 * an accessible name, every table a caption and header cells, every aria-controls a target, ids unique.
 */
async function accessibilityProblems(page: Page, scope: string): Promise<string[]> {
  return page.evaluate((selector) => {
    const root = document.querySelector(selector)!;
    const problems: string[] = [];
    const nameOf = (el: Element): string => {
      const labelledBy = el.getAttribute('aria-labelledby');
      const byLabel = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : '';
      return (
        el.getAttribute('aria-label') ??
        (labelledBy ? document.getElementById(labelledBy)?.textContent : '') ??
        ''
      ).trim() || (byLabel ?? '').trim() || (el.closest('label')?.textContent ?? '').trim() || (el.getAttribute('alt') ?? el.getAttribute('title') ?? '').trim() || (el.textContent ?? '').trim();
    };
    for (const el of root.querySelectorAll('button, select, input, a[href], iframe, img, [role="button"]')) {
      if ((el as HTMLElement).hidden || (el as HTMLElement).closest('[hidden]')) continue;
      if (!nameOf(el)) problems.push(`${el.tagName.toLowerCase()} without an accessible name: ${el.outerHTML.slice(0, 120)}`);
    }
    for (const table of root.querySelectorAll('table')) {
      if (!table.querySelector('caption')?.textContent?.trim() && !table.getAttribute('aria-label')) problems.push(`table without a caption: ${table.className}`);
      if (!table.querySelector('th')) problems.push(`table without header cells: ${table.className}`);
    }
    for (const el of root.querySelectorAll('[aria-controls]')) {
      if (!document.getElementById(el.getAttribute('aria-controls')!)) problems.push(`aria-controls names no element: ${el.outerHTML.slice(0, 120)}`);
    }
    const ids = [...document.querySelectorAll('[id]')].map((el) => el.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id ${id}`);
    return problems;
  }, scope);
}

describe.skipIf(!ready)('conflicts and live status in Chromium, two instances through Apache WebDAV', () => {
  let webdav: WebDavTestServer;
  let one: BrowserInstance;
  let two: BrowserInstance;
  let browser: Browser;

  beforeAll(async () => {
    ensureWebBuild();
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    webdav = await startWebDavServer('apache');
    // The background status check every second, so the test need not wait a minute.
    const env = { ...webDavEnv(webdav, '/conflicts'), DOCSYNC_STATUS_INTERVAL: '1' };
    one = await startInstance(PASSWORD, env);
    two = await startInstance(PASSWORD, env);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await one?.close();
    await two?.close();
    await webdav?.stop();
  });

  it('the badge follows the remote without polling; a conflict shows its differences and a line diff; merge resolves and syncs', { timeout: 180_000 }, async () => {
    const { page, context, problems } = await openPage(browser, 'instance 2');
    try {
      const notes = await one.docsync.files.create(body('line 1\nline 2\nline 3\nline 4\n'), { filename: 'notes.txt', labels: ['draft'], collections: ['thesis'] });
      await one.docsync.sync.sync();
      await two.docsync.sync.sync();

      // ---- live: another instance pushes; the badge changes with no reload and no status request ----
      await logIn(page, two.url, PASSWORD);
      await page.locator('#file-list').getByText('notes.txt').first().waitFor();
      await badge(page, 'In sync');
      await page.locator('#live-indicator[data-state="live"]').waitFor();
      const statusRequests: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/sync/status')) statusRequests.push(request.url());
      });
      await page.evaluate(() => ((window as { __marker?: string }).__marker = 'same page'));
      await one.docsync.files.replaceContent(notes.stable_id, body('line 1\nline two, from instance 1\nline 3\nline 4\n'));
      one.docsync.files.updateMetadata(notes.stable_id, { labels: ['draft', 'from-one'] });
      await one.docsync.sync.sync();
      await badge(page, 'Remote has changes');
      expect(await page.locator('#status-badge').textContent()).toBe('Remote has changes: sync needed');
      expect(await page.evaluate(() => (window as { __marker?: string }).__marker)).toBe('same page');
      expect(statusRequests).toEqual([]);
      await shot(page, '1-remote-ahead');

      // ---- a conflict: instance 2 changed the labels and collections meanwhile, then syncs ----
      two.docsync.files.updateMetadata(notes.stable_id, { labels: ['draft', 'from-two'], collections: ['thesis', 'review'] });
      await page.getByRole('button', { name: 'Sync now' }).click();
      await page.locator('#sync-summary').filter({ hasText: '1 in conflict' }).waitFor();
      const item = page.locator('#conflict-list li.conflict');
      await item.locator('table.conflict-fields').waitFor();
      await badge(page, '1 conflict');
      for (const field of ['content', 'labels', 'collections']) expect(await item.locator(`tr.field-${field}`).count()).toBe(1);
      for (const field of ['filename', 'doc_id', 'metadata']) expect(await item.locator(`tr.field-${field}`).count()).toBe(0);
      expect(await item.locator('.conflict-same').textContent()).toBe('Same on both sides: name, doc id, metadata.');
      expect(await item.locator('tr.field-labels td').nth(0).locator('.tag.only').allTextContents()).toEqual(['from-two']);
      expect(await item.locator('tr.field-labels td').nth(1).locator('.tag.only').allTextContents()).toEqual(['from-one']);
      expect(await item.locator('tr.when td').nth(0).textContent()).toMatch(/^changed .* · this instance$/);
      expect(await item.locator('tr.when td').nth(1).textContent()).toContain(`instance ${one.docsync.instanceId.slice(0, 8)}`);

      await item.getByRole('button', { name: 'Compare content' }).focus();
      const compare = item.locator('button[aria-controls^="compare-"]');
      await page.keyboard.press('Enter');
      const diff = item.locator('table.diff');
      await diff.waitFor();
      expect(await compare.getAttribute('aria-expanded')).toBe('true');
      expect(await compare.textContent()).toBe('Hide content');
      const changed = diff.locator('tr.changed');
      expect(await changed.count()).toBe(1);
      expect(await changed.locator('td').allTextContents()).toEqual(['2', 'line 2', '2', 'line two, from instance 1']);
      expect(await diff.locator('tr.same').count()).toBe(3);
      expect(await accessibilityProblems(page, '#conflicts-panel')).toEqual([]);
      await shot(page, '2-conflict-diff');
      await page.setViewportSize({ width: 390, height: 844 });
      await shot(page, '2b-conflict-phone');
      // The conflicts panel fits (the file list below is another part of the page).
      expect(await page.locator('#conflicts-panel').evaluate((panel) => panel.scrollWidth <= panel.clientWidth && panel.getBoundingClientRect().right <= 390)).toBe(true);
      await page.setViewportSize({ width: 1280, height: 800 });

      // ---- merge: labels and collections from both, content from the remote; the result box follows ----
      await item.getByRole('combobox', { name: /keep content from/ }).selectOption('remote');
      await item.getByRole('button', { name: /^Merge of notes\.txt/ }).click();
      await page.locator('#conflicts-panel').waitFor({ state: 'hidden' });
      await page.locator('#sync-conflicts-note').filter({ hasText: 'All conflicts are resolved' }).waitFor();
      expect(await page.locator('#sync-summary').getAttribute('class')).toContain('ok');
      await badge(page, '1 local change');
      const listed = page.locator('#file-list tbody tr').filter({ hasText: 'notes.txt' });
      await listed.getByText('from-one').waitFor();
      await shot(page, '3-merged');
      expect(two.docsync.files.get(notes.stable_id)).toMatchObject({ labels: ['draft', 'from-two', 'from-one'], collections: ['thesis', 'review'], sync_status: 'modified' });
      await page.getByRole('button', { name: 'Sync now' }).click();
      await page.locator('#sync-summary').filter({ hasText: 'Synced' }).waitFor();
      await badge(page, 'In sync');
      await one.docsync.sync.sync();
      expect(one.docsync.files.get(notes.stable_id)).toMatchObject({ labels: ['draft', 'from-two', 'from-one'], collections: ['thesis', 'review'], sync_status: 'synced' });
      expect(statusRequests.length).toBeGreaterThan(0); // after its own actions the page does ask
      expect(problems).toEqual([]);
    } catch (error) {
      await shot(page, 'failure').catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });

  it('an image conflict shows both versions next to each other', { timeout: 120_000 }, async () => {
    const { page, context, problems } = await openPage(browser, 'images');
    try {
      await page.setContent('<body style="margin:0;background:#2563eb"></body>');
      // Real PNGs of different sizes, made by the browser itself.
      const png = (width: number, height: number) => page.screenshot({ clip: { x: 0, y: 0, width, height } });
      const [first, mine, theirs] = [await png(8, 8), await png(40, 20), await png(30, 60)];
      const image = await one.docsync.files.create(Readable.from([first]), { filename: 'figure.png' });
      await one.docsync.sync.sync();
      await two.docsync.sync.sync();
      await one.docsync.files.replaceContent(image.stable_id, Readable.from([theirs]));
      await one.docsync.sync.sync();
      await two.docsync.files.replaceContent(image.stable_id, Readable.from([mine]));
      expect((await two.docsync.sync.sync()).conflicts).toBe(1);

      await logIn(page, two.url, PASSWORD);
      const item = page.locator('#conflict-list li.conflict').filter({ hasText: 'figure.png' });
      await item.getByRole('button', { name: 'Compare content' }).click();
      const images = item.locator('.previews img');
      await expect.poll(() => images.evaluateAll((imgs) => imgs.map((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]))).toEqual([[40, 20], [30, 60]]);
      expect(await images.nth(1).getAttribute('alt')).toBe('Remote version of figure.png');
      expect(await images.nth(0).evaluate((img) => img.clientWidth)).toBe(40); // never blown up
      // Only the content differs: nothing to merge, so no merge button and no merge choices.
      expect(await item.getByRole('button', { name: /^Merge of/ }).count()).toBe(0);
      expect(await item.locator('select').count()).toBe(0);
      expect(await accessibilityProblems(page, '#conflicts-panel')).toEqual([]);
      await shot(page, '5-image-conflict');
      await item.getByRole('button', { name: /^Take the remote version of figure\.png/ }).click();
      await page.locator('#conflicts-panel').waitFor({ state: 'hidden' });
      expect(two.docsync.files.get(image.stable_id).hash).toBe(one.docsync.files.get(image.stable_id).hash);
      expect(problems).toEqual([]);
    } catch (error) {
      await shot(page, 'failure-images').catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });

  it('a PDF conflict shows both versions in the browser\'s own viewer, framable by this page only', { timeout: 120_000 }, async () => {
    const { page, context, problems } = await openPage(browser, 'pdfs');
    try {
      const paper = await one.docsync.files.create(Readable.from([tinyPdf('first')]), { filename: 'paper.pdf' });
      await one.docsync.sync.sync();
      await two.docsync.sync.sync();
      await one.docsync.files.replaceContent(paper.stable_id, Readable.from([tinyPdf('theirs')]));
      await one.docsync.sync.sync();
      await two.docsync.files.replaceContent(paper.stable_id, Readable.from([tinyPdf('mine')]));
      expect((await two.docsync.sync.sync()).conflicts).toBe(1);

      await logIn(page, two.url, PASSWORD);
      const item = page.locator('#conflict-list li.conflict').filter({ hasText: 'paper.pdf' });
      await item.getByRole('button', { name: 'Compare content' }).click();
      // What the server answers for both sides (asked with the page's own session).
      for (const url of [`${two.url}/api/v1/files/${paper.stable_id}/content`, `${two.url}/api/v1/sync/conflicts/${paper.stable_id}/remote-content`]) {
        const answer = await page.request.get(url);
        expect(answer.status(), url).toBe(200);
        expect(answer.headers()['content-type']).toBe('application/pdf');
        expect(answer.headers()['content-security-policy'], url).toMatch(/^sandbox; .*frame-ancestors 'self'$/);
        expect(answer.headers()['x-frame-options']).toBe('SAMEORIGIN');
      }
      // Both frames hold Chromium's PDF document and its viewer, never markup of the file.
      // Only the page's own frames: Chromium's PDF viewer may open inner frames on the same URL.
      const pdfFrames = () => page.mainFrame().childFrames().filter((f) => /\/(content|remote-content)(\?|#|$)/.test(f.url()));
      await expect.poll(() => pdfFrames().length).toBe(2);
      for (const frame of pdfFrames()) {
        await expect.poll(() => frame.evaluate(() => [document.contentType, document.querySelectorAll('script').length])).toEqual(['application/pdf', 0]);
        await expect.poll(() => frame.childFrames().some((f) => f.url().startsWith('chrome-extension://'))).toBe(true);
      }
      expect(await item.locator('.previews iframe').evaluateAll((frames) => frames.map((f) => f.getAttribute('title')))).toEqual([
        "This instance's version of paper.pdf",
        'Remote version of paper.pdf',
      ]);
      await page.waitForTimeout(4000); // the viewer paints its page after it loads
      await shot(page, '6-pdf-conflict');
      await item.getByRole('button', { name: /^Keep this version of paper\.pdf/ }).click();
      await page.locator('#conflicts-panel').waitFor({ state: 'hidden' });
      expect(problems).toEqual([]);
    } catch (error) {
      await shot(page, 'failure-pdfs').catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });

  it('sync progress shows files and bytes done of the total, with speed', { timeout: 120_000 }, async () => {
    const { page, context, problems } = await openPage(browser, 'instance 1');
    try {
      await logIn(page, one.url, PASSWORD);
      const files = [1, 2, 3].map((n) => ({ name: `scan-${n}.pdf`, mimeType: 'application/pdf', buffer: Buffer.alloc(1024 * 1024, n) }));
      await page.setInputFiles('#file-input', files);
      await badge(page, '3 local changes');
      await page.evaluate(() => {
        const phase = document.getElementById('sync-phase')!;
        const seen: string[] = [];
        (window as { __phases?: string[] }).__phases = seen;
        new MutationObserver(() => seen.push(phase.textContent ?? '')).observe(phase, { childList: true, characterData: true, subtree: true });
      });
      await page.getByRole('button', { name: 'Sync now' }).click();
      await page.locator('#sync-summary').filter({ hasText: '3 uploaded' }).waitFor();
      const phases = await page.evaluate(() => (window as { __phases?: string[] }).__phases ?? []);
      const uploads = phases.filter((text) => text.startsWith('Uploading'));
      expect(uploads[0]).toBe('Uploading 0 of 3 files · 0 B of 3.0 MB');
      expect(uploads.at(-1)).toMatch(/^Uploading 3 of 3 files · 3\.0 MB of 3\.0 MB · [\d.]+ (B|KB|MB|GB)\/s$/);
      await badge(page, 'In sync');
      await shot(page, '4-progress-done');
      expect(problems).toEqual([]);
    } catch (error) {
      await shot(page, 'failure-progress').catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });
});
