/**
 * History and trash on the web page (docs/design.md#history-trash-and-garbage-collection) in headless Chromium: a file's versions in the History
 * dialog, an older version restored from it (its content fetched from the remote), a deleted file
 * brought back from the Trash panel — with the keyboard. Screenshots go to test-artifacts/browser/.
 */
import { Readable } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoUtc } from '../../src/domain/clock.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { commitInfo, sharedRowOf } from '../support/history.ts';
import { chromiumAvailable, ensureWebBuild, launchChromium, openPage, screenshot, startInstance, type BrowserInstance } from './harness.ts';

const PASSWORD = 'browser test password';
const ready = chromiumAvailable();
const body = (content: string) => Readable.from([Buffer.from(content)]);

// Skipped only outside CI, with a loud warning, when Chromium is missing (CI=true fails instead).
describe.skipIf(!ready)('history and trash on the web page', () => {
  let instance: BrowserInstance;
  let remote: MemoryRemote;
  let browser: Browser;

  beforeAll(async () => {
    ensureWebBuild();
    remote = new MemoryRemote();
    // Standalone as far as syncing goes; the memory remote is where restores fetch old content from.
    instance = await startInstance(PASSWORD, { DOCSYNC_REMOTE: 'none' }, { remote });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await instance?.close();
  });

  /** What a sync leaves: the row synced at `version`, and its commit recorded in history. */
  const commitRow = (file: FileRecord, version: number, instanceId: string): FileRecord => {
    const { docsync } = instance;
    const synced: FileRecord = { ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: version };
    docsync.fileRepository.update(synced);
    docsync.historyRepository.record(commitInfo(version, isoUtc(Date.now() - (3 - version) * 3600_000), instanceId), [sharedRowOf(synced, version)]);
    return synced;
  };

  const row = (page: Page, filename: string) => page.locator('#file-list tbody tr').filter({ hasText: filename });

  it('restores an older version from the History dialog and a deleted file from the Trash', { timeout: 120_000 }, async () => {
    const { docsync } = instance;
    const v1 = commitRow(await docsync.files.create(body('version one'), { filename: 'report.txt', labels: ['draft'] }), 1, '7f3a9c2e-5b1d-4e8a-9f00-2c4d6e8a1b3c');
    await docsync.files.replaceContent(v1.stable_id, body('version two, longer'));
    commitRow(docsync.files.updateMetadata(v1.stable_id, { labels: ['final'] }), 2, '91c2e4f6-0a1b-4c3d-8e5f-6a7b8c9d0e1f');
    await remote.mkdir(remotePaths.blobDir(v1.hash));
    await remote.put(remotePaths.blob(v1.hash, 'txt'), Buffer.from('version one'));
    const gone = await docsync.files.create(body('notes'), { filename: 'old-notes.txt', labels: ['misc'] });
    docsync.files.delete(gone.stable_id);

    const { page, context, problems } = await openPage(browser, 'history');
    try {
      await page.goto(instance.url);
      await page.fill('#login-username', 'admin');
      await page.fill('#login-password', PASSWORD);
      await page.press('#login-password', 'Enter');
      await row(page, 'report.txt').waitFor();
      expect(await row(page, 'old-notes.txt').count()).toBe(0);

      // ---- History, with the keyboard: the dialog lists both versions, the synced one marked ----
      const historyButton = row(page, 'report.txt').getByRole('button', { name: 'History of report.txt' });
      await historyButton.focus();
      await page.keyboard.press('Enter');
      const dialog = page.locator('#history-dialog[open]');
      await dialog.locator('tbody tr').nth(1).waitFor();
      expect(await dialog.locator('#history-title').textContent()).toBe('History: 2 versions');
      expect(await dialog.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-version')))).toEqual(['2', '1']);
      expect(await dialog.locator('tr[data-version="2"] .version-state').textContent()).toBe('Current');
      expect(await dialog.locator('tr[data-version="2"]').textContent()).toContain('final');
      expect(await dialog.locator('#history-pending').isHidden()).toBe(true);
      await screenshot(page, 'history-1-dialog');

      const restore = dialog.getByRole('button', { name: 'Restore version 1 of report.txt' });
      await restore.focus();
      await page.keyboard.press('Enter');
      await page.locator('.toast').filter({ hasText: 'Restored report.txt to version 1' }).waitFor();
      await row(page, 'report.txt').locator('.status', { hasText: 'Not synced yet' }).waitFor();
      await row(page, 'report.txt').locator('.chip-label', { hasText: 'draft' }).waitFor();
      const restored = docsync.files.get(v1.stable_id);
      expect(restored).toMatchObject({ hash: v1.hash, labels: ['draft'], sync_status: 'modified', remote_version: 2 });
      const content = await page.evaluate(async (url) => (await fetch(url)).text(), `/api/v1/files/${v1.stable_id}/content`);
      expect(content).toBe('version one');
      expect(await dialog.locator('#history-pending').isVisible()).toBe(true);
      await screenshot(page, 'history-2-restored');
      await page.keyboard.press('Escape');
      await page.locator('#history-dialog').waitFor({ state: 'hidden' });
      expect(await historyButton.evaluate((button) => button === document.activeElement)).toBe(true);

      // ---- Trash: the deleted file, restored with the keyboard, back in the list ----
      const trashButton = page.getByRole('button', { name: 'Trash', exact: true });
      await trashButton.focus();
      await page.keyboard.press('Enter');
      const panel = page.locator('#trash-panel');
      await panel.locator('tbody tr').filter({ hasText: 'old-notes.txt' }).waitFor();
      expect(await trashButton.getAttribute('aria-expanded')).toBe('true');
      await screenshot(page, 'history-3-trash');
      const restoreDeleted = panel.getByRole('button', { name: 'Restore old-notes.txt' });
      await restoreDeleted.focus();
      await page.keyboard.press('Enter');
      await panel.getByText('The trash is empty.').waitFor();
      await row(page, 'old-notes.txt').waitFor();
      expect(docsync.files.get(gone.stable_id)).toMatchObject({ deleted: false, sync_status: 'modified' });
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('trash-close');
      await screenshot(page, 'history-4-trash-restored');
      await page.keyboard.press('Enter');
      expect(await panel.isHidden()).toBe(true);
      expect(await trashButton.evaluate((button) => button === document.activeElement)).toBe(true);
      expect(problems).toEqual([]);
    } catch (error) {
      await screenshot(page, 'history-failure').catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  });
});
