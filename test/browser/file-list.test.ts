/**
 * The file list at scale and actions on many files (issue 13), in headless Chromium: sorting by
 * column, the windowed list scrolled and jumped through at 100,000 files (timed in the page, the
 * DOM holding only the rows near the viewport), shift-click ranges (also over rows never loaded), bulk
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

/** Sorts by size in the page and resolves, in the page, when the first row has changed and is painted: the step's time in ms. */
async function timedSort(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const list = document.getElementById('file-list')!;
        const firstId = list.querySelector('tbody tr')?.getAttribute('data-id');
        const started = performance.now();
        const observer = new MutationObserver(() => {
          if (list.querySelector('th[aria-sort]') === null || list.querySelector('tbody tr')?.getAttribute('data-id') === firstId) return;
          observer.disconnect();
          // The rows are in the DOM: wait for the frame that paints them.
          requestAnimationFrame(() => resolve(performance.now() - started));
        });
        observer.observe(list, { childList: true, subtree: true });
        setTimeout(() => reject(new Error('sort: the first row did not change in 10 s')), 10_000);
        list.querySelector<HTMLButtonElement>('th .sort[data-focus-key="sort:size"]')!.click();
      }),
  );
}

/**
 * Scrolls the window to `fraction` of its height (0…1, or a number of px down from where it is when
 * `by` is set) and resolves when the viewport shows only loaded rows, painted: the step's time in
 * ms, with the position (aria-rowindex) of the row in the middle of the viewport.
 */
async function timedScroll(page: Page, to: { fraction?: number; by?: number }): Promise<{ ms: number; middle: number }> {
  return page.evaluate(
    ({ fraction, by }) =>
      new Promise<{ ms: number; middle: number }>((resolve, reject) => {
        const rows = () => [...document.querySelectorAll<HTMLTableRowElement>('#file-list tbody tr')];
        const inView = (row: Element) => {
          const box = row.getBoundingClientRect();
          return box.bottom > 0 && box.top < window.innerHeight;
        };
        const started = performance.now();
        const timer = setTimeout(() => reject(new Error(`scroll: rows still missing after 10 s (${rows().length} rows)`)), 10_000);
        const check = () => {
          const shown = rows().filter(inView);
          if (shown.length > 0 && !shown.some((row) => row.classList.contains('placeholder'))) {
            clearTimeout(timer);
            const ms = performance.now() - started;
            const middle = document.elementFromPoint(window.innerWidth / 2, window.innerHeight / 2)?.closest('tr');
            resolve({ ms, middle: Number(middle?.getAttribute('aria-rowindex') ?? -1) });
          } else {
            requestAnimationFrame(check);
          }
        };
        if (by !== undefined) window.scrollBy(0, by);
        else window.scrollTo(0, (document.documentElement.scrollHeight - window.innerHeight) * fraction!);
        // The first frame after the scroll paints the window; a loaded page paints at a later one.
        requestAnimationFrame(() => requestAnimationFrame(check));
      }),
    to,
  );
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, worst: sorted[sorted.length - 1]! };
};

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
      await expect.poll(() => page.locator('#list-summary').textContent()).toBe('100,000 files');
      const sort = await timedSort(page);
      await expect.poll(() => page.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
      const sizes = await page.locator('#file-list tbody td.num').allTextContents();
      expect(sizes[0]).toBe('98 KB');
      expect(await page.locator('table.files').getAttribute('aria-rowcount')).toBe('100001');

      // Small steps (a viewport down, as a wheel or Page Down), then jumps (a scrollbar dragged), back and forth.
      const small: number[] = [];
      const jumps: number[] = [];
      const domRows: number[] = [];
      const middles: number[] = [];
      for (let i = 0; i < 8; i++) {
        small.push((await timedScroll(page, { by: 700 })).ms);
        domRows.push(await rowsIn(page).count());
      }
      for (const fraction of [0.5, 0.93, 0.12, 0.71, 0.3, 0.999, 0.05, 0.6]) {
        const step = await timedScroll(page, { fraction });
        jumps.push(step.ms);
        middles.push(step.middle);
        domRows.push(await rowsIn(page).count());
      }
      // The row in the middle of the viewport is where the scrollbar says (rows are one height).
      [0.5, 0.93, 0.12, 0.71, 0.3, 0.999, 0.05, 0.6].forEach((fraction, i) => expect(Math.abs(middles[i]! - fraction * 100_000)).toBeLessThan(100));
      // The list requests' own times (request sent to answer read): what of a jump is the server's.
      const requests = await page.evaluate(() =>
        performance.getEntriesByType('resource').filter((e) => e.name.includes('/files?') && e.name.includes('offset=')).map((e) => e.duration),
      );
      // The same far page asked of the store directly: the query's own share of a jump.
      const queryStart = performance.now();
      big.docsync.files.list({ sort: 'size', order: 'desc', offset: 93_000, limit: 100 });
      const query = performance.now() - queryStart;
      const all = [...small, ...jumps];
      const { median, worst } = stats(all);
      const load = os.loadavg()[0]!.toFixed(1);
      console.log(
        `[100K files] first rows ${first.toFixed(0)} ms after the list request (${sinceNavigation.toFixed(0)} ms after navigation); ` +
          `sort by size ${sort.toFixed(0)} ms; scroll steps (a viewport) ${small.map((s) => s.toFixed(0)).join(', ')} ms; ` +
          `jumps ${jumps.map((s) => s.toFixed(0)).join(', ')} ms (their requests: median ${stats(requests).median.toFixed(0)}, worst ${stats(requests).worst.toFixed(0)} ms; the store's query at row 93,000: ${query.toFixed(0)} ms); all ${all.length} steps: median ${median.toFixed(0)}, worst ${worst.toFixed(0)} ms; ` +
          `rows in the DOM ${Math.min(...domRows)}–${Math.max(...domRows)}; ` +
          `targets 300 / 100 ms ${first < 300 && worst < 100 ? 'met' : 'NOT met'}; load average ${load} on ${os.cpus().length} cores`,
      );
      // The targets (300 ms, 100 ms) times a slack for shared CI machines (DOCSYNC_TIMING_SLACK, default 2).
      expect(first).toBeLessThan(300 * SLACK);
      expect(sort).toBeLessThan(300 * SLACK);
      expect(median).toBeLessThan(100 * SLACK);
      // Far jumps on their own too (a request and a window of rows built each): the slow half of the steps.
      expect(stats(jumps).median).toBeLessThan(100 * SLACK);
      // Windowed: the DOM holds the rows near the viewport, wherever the list is scrolled.
      expect(Math.max(...domRows)).toBeLessThan(80);

      // At the very end: the last row is the 100,000th, the smallest (sorted by size, descending).
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await expect.poll(() => page.locator('#file-list tbody tr[aria-rowindex="100001"] td.num').textContent()).toBe('0 B');

      // Tab from the last row built goes on to the next row: the window follows the focus.
      await page.evaluate(() => window.scrollTo(0, 0));
      await expect.poll(() => page.locator('#file-list tbody tr[aria-rowindex="2"]').count()).toBe(1);
      const lastBuilt = await rowsIn(page).last().getAttribute('aria-rowindex');
      await rowsIn(page).last().getByRole('button', { name: /^Delete / }).focus();
      await page.keyboard.press('Tab');
      const next = String(Number(lastBuilt) + 1);
      await expect
        .poll(() => page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('aria-rowindex') ?? 'none'))
        .toBe(next);

      // Shift-click from the first row to one 5,000 rows down, never loaded in between: 5,001 files.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.locator('#file-list tbody tr[aria-rowindex="2"] input.select-row').click();
      const target = await page.evaluate(() => {
        const row = document.querySelector<HTMLElement>('#file-list tbody tr[aria-rowindex="2"]')!;
        window.scrollTo(0, row.getBoundingClientRect().top + window.scrollY + row.offsetHeight * 5000 - 300);
        return '5002';
      });
      const far = page.locator(`#file-list tbody tr[aria-rowindex="${target}"] input.select-row`);
      await far.click({ modifiers: ['Shift'] });
      await expect.poll(() => page.locator('.bulk-count').textContent()).toBe('5,001 files selected');
      await expect.poll(() => page.locator('#select-page').evaluate((box: HTMLInputElement) => box.indeterminate)).toBe(true);
      await screenshot(page, 'list-100k-range-selected');
      await page.getByRole('button', { name: 'Clear selection' }).click();
      await page.evaluate(() => window.scrollTo(0, 0));
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
  }, 180_000);

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
      await expect.poll(() => page.getByRole('button', { name: 'Select all 131 matching' }).isVisible()).toBe(true);
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
      await expect.poll(() => page.locator('#list-summary').textContent()).toBe('130 files');
      await page.getByRole('checkbox', { name: 'Select all matching files' }).check();
      await expect.poll(() => page.locator('.bulk-count').textContent()).toBe('All 130 matching files selected');
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
