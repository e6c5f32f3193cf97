import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepTempFiles, TEMP_SWEEP_GRACE_MS } from '../../src/store/temp-sweep.ts';
import { tempDir } from '../support/instance.ts';

describe('sweepTempFiles', () => {
  let tmp: ReturnType<typeof tempDir>;
  const now = Date.parse('2026-06-01T12:00:00.000Z');
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  function file(name: string, ageMs: number): void {
    const at = (now - ageMs) / 1000;
    fs.writeFileSync(path.join(tmp.dir, name), 'x');
    fs.utimesSync(path.join(tmp.dir, name), at, at);
  }

  it('removes leftovers older than the grace period and keeps young ones and files that are not ours', async () => {
    file('00112233445566778899aabb.part', TEMP_SWEEP_GRACE_MS + 1000);
    file('snapshot-0011223344556677.db', TEMP_SWEEP_GRACE_MS + 1000);
    file('snapshot-0011223344556677.db-journal', TEMP_SWEEP_GRACE_MS + 1000);
    file('ffeeddccbbaa998877665544.part', TEMP_SWEEP_GRACE_MS - 1000);
    file('snapshot-8899aabbccddeeff.db', 1000);
    file('keep-me.txt', TEMP_SWEEP_GRACE_MS * 10);
    expect(await sweepTempFiles(tmp.dir, now, { dryRun: true })).toEqual({ removed: 3, kept: 2 });
    expect(fs.readdirSync(tmp.dir)).toHaveLength(6);
    expect(await sweepTempFiles(tmp.dir, now)).toEqual({ removed: 3, kept: 2 });
    expect(fs.readdirSync(tmp.dir).sort()).toEqual(['ffeeddccbbaa998877665544.part', 'keep-me.txt', 'snapshot-8899aabbccddeeff.db']);
  });

  it('takes nothing while a sync of another process runs on the data dir', async () => {
    file('00112233445566778899aabb.part', TEMP_SWEEP_GRACE_MS * 10);
    expect(await sweepTempFiles(tmp.dir, now, { syncRunningElsewhere: true })).toMatchObject({ removed: 0 });
    expect(fs.readdirSync(tmp.dir)).toEqual(['00112233445566778899aabb.part']);
  });

  it('is quiet about a tmp folder that does not exist yet', async () => {
    expect(await sweepTempFiles(path.join(tmp.dir, 'nope'), now)).toEqual({ removed: 0, kept: 0 });
  });
});
