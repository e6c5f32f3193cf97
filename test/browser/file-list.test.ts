/**
 * The file list at scale and actions on many files (issue 13), in headless Chromium: sorting by
 * column, paging and scrolling at 100,000 files (timed in the page), shift-click ranges, bulk
 * label, select all matching across pages, zip download (unzipped and compared), bulk delete, and
 * the list at 390 px with the row menu driven by the keyboard. Screenshots go to test-artifacts/browser/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLocalFile, type FileRecord } from '../../src/domain/file.ts';
import type { StableId } from '../../src/domain/ids.ts';
import { ARTIFACTS, chromiumAvailable, ensureWebBuild, launchChromium, openPage, startInstance, type BrowserInstance } from './harness.ts';

const PASSWORD = 'file list test password';
const SLACK = Number(process.env.DOCSYNC_TIMING_SLACK ?? 2);
const ready = chromiumAvailable();

async function logIn(page: Page, url: string): Promise<number> {
  await page.goto(url);
  await page.locator('#login-form').waitFor();
  await page.fill('#login-username', 'admin');
  await page.fill('#login-password', PASSWORD);
  const started = Date.now();
  await page.press('#login-password', 'Enter');
  await page.locator('#file-list tbody tr').first().waitFor();
  return Date.now() - started;
}

/** Runs `act` in the page and resolves, in the page, when the list holds `rows` rows: the step's time in ms. */
async function timedStep(page: Page, act: 'scroll' | 'load-more' | 'sort-size', rows: number): Promise<number> {
  return page.evaluate(
    ({ act, rows }) =>
      new Promise<number>((resolve, reject) => {
        const list = document.getElementById('file-list')!;
        const count = () => list.querySelectorAll('tbody tr').length;
        const firstId = list.querySelector('tbody tr')?.getAttribute('data-id');
        const done = () =>
          act === 'sort-size' ? list.querySelector('th[aria-sort]') !== null && list.querySelector('tbody tr')?.getAttribute('data-id') !== firstId : count() === rows;
        const started = performance.now();
        const observer = new MutationObserver(() => {
          if (!done()) return;
          observer.disconnect();
          // The rows are in the DOM: wait for the frame that paints them.
          requestAnimationFrame(() => resolve(performance.now() - started));
        });
        observer.observe(list, { childList: true, subtree: true });
        setTimeout(() => reject(new Error(`${act}: still ${count()} rows after 10 s`)), 10_000);
        if (act === 'scroll') window.scrollTo(0, document.documentElement.scrollHeight);
        else if (act === 'load-more') document.getElementById('load-more')!.click();
        else list.querySelector<HTMLButtonElement>('th .sort:not([data-focus-key="sort:name"]):not([data-focus-key="sort:type"])')!.click();
      }),
    { act, rows },
  );
}

/** What the person sees (the viewport): a full-page shot of 1,000 rows is too tall to look at. */
async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

const rowsIn = (page: Page) => page.locator('#file-list tbody tr');
const focused = (locator: Locator) => locator.evaluate((el) => el === document.activeElement);

describe.skipIf(!ready)('file list in Chromium: 100K files, sorting, bulk actions, phone width', () => {
  let big: BrowserInstance;
  let small: BrowserInstance;
  let browser: Browser;

  beforeAll(async () => {
    ensureWebBuild();
    [big, small] = await Promise.all([startInstance(PASSWORD, {}), startInstance(PASSWORD, {})]);
    // 100,000 rows straight into the store (one transaction), not 100,000 uploads.
    const rows: FileRecord[] = [];
    for (let i = 0; i < 100_000; i++) {
      const n = String(i).padStart(6, '0');
      rows.push(
        newLocalFile(
          { stable_id: `big${n}` as StableId, hash: 'b'.repeat(64), filename: `scan-${(i * 7919) % 100_000}.${i % 3 ? 'pdf' : 'xml'}`, file_type: i % 3 ? 'pdf' : 'xml', size: (i * 37) % 100_000 },
          new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
        ),
      );
    }
    big.docsync.fileRepository.insertMany(rows);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await big?.close();
    await small?.close();
  });

  it('shows the first rows, sorts and pages at 100,000 files within the targets', async () => {
    const { context, page, problems } = await openPage(browser, 'big');
    try {
      await logIn(page, big.url);
      // First rows: a fresh load (session cookie set), from the list request leaving to its rows painted.
      await page.addInitScript(() => {
        new MutationObserver((_, observer) => {
          if (!document.querySelector('#file-list tbody tr')) return;
          observer.disconnect();
          requestAnimationFrame(() => ((window as unknown as { __firstRows: number }).__firstRows = performance.now()));
        }).observe(document, { childList: true, subtree: true });
      });
      await page.reload();
      await page.waitForFunction(() => (window as unknown as { __firstRows?: number }).__firstRows !== undefined);
      const { first, sinceNavigation } = await page.evaluate(() => {
        const painted = (window as unknown as { __firstRows: number }).__firstRows;
        const request = performance.getEntriesByType('resource').find((e) => e.name.includes('/files?'))!;
        return { first: painted - request.startTime, sinceNavigation: painted };
      });
      await expect.poll(() => page.locator('#list-summary').textContent()).toBe('100 of 100000 files');
      const sort = await timedStep(page, 'sort-size', 0);
      await expect.poll(() => page.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
      const sizes = await page.locator('#file-list tbody td.num').allTextContents();
      expect(sizes[0]).toBe('98 KB');
      // A page appends its rows: the rows already shown stay the same DOM nodes (never redrawn).
      await page.evaluate(() => ((document.querySelector('#file-list tbody tr') as HTMLElement & { __kept?: boolean }).__kept = true));
      const steps: number[] = [];
      for (let i = 0; i < 10; i++) steps.push(await timedStep(page, i % 2 ? 'load-more' : 'scroll', 200 + i * 100));
      expect(await page.evaluate(() => (document.querySelector('#file-list tbody tr') as HTMLElement & { __kept?: boolean }).__kept)).toBe(true);
      const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)]!;
      const load = os.loadavg()[0]!.toFixed(1);
      console.log(
        `[100K files] first rows ${first.toFixed(0)} ms after the list request (${sinceNavigation.toFixed(0)} ms after navigation); ` +
          `sort by size ${sort.toFixed(0)} ms; page steps ${steps.map((s) => s.toFixed(0)).join(', ')} ms (median ${median.toFixed(0)}); ` +
          `targets 300 / 100 ms ${first < 300 && Math.max(...steps) < 100 ? 'met' : 'NOT met'}; load average ${load} on ${os.cpus().length} cores`,
      );
      // The targets (300 ms, 100 ms) times a slack for shared CI machines (DOCSYNC_TIMING_SLACK, default 2):
      // a list that redraws every row at each page (the old one) blows it by the tenth page.
      expect(first).toBeLessThan(300 * SLACK);
      expect(sort).toBeLessThan(300 * SLACK);
      expect(median).toBeLessThan(100 * SLACK);
      await expect.poll(() => rowsIn(page).count()).toBe(1100);
      // No duplicates, and the order holds across the pages.
      const ids = await rowsIn(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
      expect(new Set(ids).size).toBe(1100);
      // Sorting by name (ascending first), then again (descending): aria-sort follows.
      await page.getByRole('button', { name: 'Name' }).click();
      await expect.poll(() => page.locator('th[aria-sort]').textContent()).toContain('Name');
      expect(await page.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('ascending');
      await expect.poll(() => page.locator('#file-list a.filename').first().textContent()).toBe('scan-0.xml');
      await page.getByRole('button', { name: 'Name' }).click();
      await expect.poll(() => page.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
      await expect.poll(() => page.locator('#file-list a.filename').first().textContent()).toBe('scan-99999.pdf');
      await screenshot(page, 'list-100k-sorted');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('selects with shift-click, labels the range, zips all matching across pages, deletes them', async () => {
    const contents = new Map<string, string>();
    for (let i = 0; i < 130; i++) {
      const name = i === 129 ? 'other.txt' : `note-${String(i).padStart(3, '0')}.txt`;
      const body = `content of ${name} ${'x'.repeat(i)}`;
      contents.set(name, body);
      await small.docsync.files.create(Readable.from([Buffer.from(body)]), { filename: name });
    }
    // Two files with the same name: the zip must keep both, under unique names.
    await small.docsync.files.create(Readable.from([Buffer.from('twin')]), { filename: 'note-000.txt' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await logIn(page, small.url);
      await page.getByRole('button', { name: 'Name' }).click();
      await expect.poll(() => page.locator('#file-list a.filename').nth(2).textContent()).toBe('note-001.txt');
      // Click the 3rd row's box, shift-click the 7th: five rows.
      await page.getByRole('checkbox', { name: 'Select note-001.txt' }).click();
      await page.getByRole('checkbox', { name: 'Select note-005.txt' }).click({ modifiers: ['Shift'] });
      await expect.poll(() => page.locator('.bulk-count').textContent()).toBe('5 files selected');
      await expect.poll(() => page.locator('#file-list input.select-row:checked').count()).toBe(5);
      await page.getByLabel('Label or collection').fill('urgent');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => page.locator('.toast').last().textContent()).toBe('Labelled “urgent”: 5 files');
      await expect.poll(() => page.locator('#file-list tr:has(.chip-label:text("urgent"))').count()).toBe(5);
      const labelled = small.docsync.files.list({ label: 'urgent', limit: 10 }).files.map((f) => f.filename).sort();
      expect(labelled).toEqual(['note-001.txt', 'note-002.txt', 'note-003.txt', 'note-004.txt', 'note-005.txt']);
      await screenshot(page, 'list-bulk-labelled');

      // Filter to the 130 notes (2 pages), select all matching, untick one, download the zip.
      await page.getByRole('button', { name: 'Clear selection' }).click();
      await page.fill('#filter-q', 'note-');
      await expect.poll(() => page.locator('#list-summary').textContent()).toBe('100 of 130 files');
      await page.getByRole('checkbox', { name: 'Select all shown files' }).check();
      await page.getByRole('button', { name: 'Select all 130 matching' }).click();
      await page.getByRole('checkbox', { name: 'Select note-010.txt' }).uncheck();
      await expect.poll(() => page.locator('.bulk-count').textContent()).toBe('All 129 matching files selected');
      await screenshot(page, 'list-all-matching');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download zip' }).click()]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-zip-'));
      try {
        const zip = path.join(dir, 'files.zip');
        await download.saveAs(zip);
        const names = execFileSync('unzip', ['-Z1', zip]).toString().trim().split('\n').sort();
        expect(names).toHaveLength(129);
        expect(names).not.toContain('note-010.txt');
        expect(names).not.toContain('other.txt');
        expect(names.filter((n) => n.startsWith('note-000'))).toHaveLength(2);
        for (const name of ['note-001.txt', 'note-128.txt']) {
          expect(execFileSync('unzip', ['-p', zip, name]).toString()).toBe(contents.get(name));
        }
        const twin = names.find((n) => n.startsWith('note-000 ('))!;
        const bodies = [execFileSync('unzip', ['-p', zip, 'note-000.txt']).toString(), execFileSync('unzip', ['-p', zip, twin]).toString()].sort();
        expect(bodies).toEqual([contents.get('note-000.txt'), 'twin'].sort());
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }

      // Delete all matching but the unticked one.
      await page.getByRole('button', { name: 'Delete', exact: true }).first().click();
      await expect.poll(() => page.locator('#confirm-title').textContent()).toBe('Delete 129 files?');
      await page.locator('#confirm-ok').click();
      await expect.poll(() => page.locator('.toast').last().textContent()).toBe('Deleted: 129 files');
      await expect.poll(() => page.locator('#list-summary').textContent()).toBe('1 file');
      await expect.poll(() => page.locator('#file-list a.filename').allTextContents()).toEqual(['note-010.txt']);
      await expect.poll(() => page.locator('#bulk-bar').isVisible()).toBe(false);
      expect(small.docsync.files.list({ limit: 10 }).total).toBe(2);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('fits 390 px, with the row actions in a menu the keyboard can drive', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const page = await context.newPage();
    try {
      await logIn(page, big.url);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const firstName = (await page.locator('#file-list a.filename').first().textContent())!;
      const trigger = page.getByRole('button', { name: `Actions for ${firstName}` });
      await expect.poll(() => trigger.isVisible()).toBe(true);
      await expect.poll(() => trigger.getAttribute('aria-haspopup')).toBe('menu');
      await expect.poll(() => page.getByRole('button', { name: `Delete ${firstName}` }).isVisible()).toBe(false);
      // Tab from the row's checkbox reaches the filename, then the menu button.
      await page.getByRole('checkbox', { name: `Select ${firstName}` }).focus();
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await expect.poll(() => focused(trigger)).toBe(true);
      await page.keyboard.press('Enter');
      await expect.poll(() => trigger.getAttribute('aria-expanded')).toBe('true');
      // The page opens a file's pane from its name: the menu starts with Details.
      await expect.poll(() => focused(page.getByRole('menuitem', { name: `Details of ${firstName}` }))).toBe(true);
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => focused(page.getByRole('menuitem', { name: `Download ${firstName}` }))).toBe(true);
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => focused(page.getByRole('menuitem', { name: `Edit collections and labels of ${firstName}` }))).toBe(true);
      await screenshot(page, 'list-390px-menu');
      await page.keyboard.press('Escape');
      await expect.poll(() => trigger.getAttribute('aria-expanded')).toBe('false');
      await expect.poll(() => focused(trigger)).toBe(true);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#edit-dialog').isVisible()).toBe(true);
      await expect.poll(() => page.locator('#edit-filename').textContent()).toBe(firstName);
      await page.keyboard.press('Escape');
      // Every control of the list has a name a screen reader can say.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('#file-list button, #file-list input, #file-list a, #bulk-bar button, #bulk-bar input, #bulk-bar select')]
          .filter((el) => !(el.getAttribute('aria-label') || el.textContent?.trim()))
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      expect(unnamed).toEqual([]);
      await page.getByRole('checkbox', { name: `Select ${firstName}` }).check();
      await screenshot(page, 'list-390px');
      const barOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(barOverflow).toBeLessThanOrEqual(0);
    } finally {
      await context.close();
    }
  }, 60_000);
});
