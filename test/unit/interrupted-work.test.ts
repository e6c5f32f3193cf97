import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepInterrupted, workName } from '../../src/services/interrupted-work.ts';
import { tempDir } from '../support/instance.ts';

describe('sweepInterrupted', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it('removes the work of a process that is gone, and only that', async () => {
    // A process id that was real and is over (a child that has exited), and this host's tag.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const mine = workName('.docsync-backup-', 'u1', '.tar.partial');
    const host = mine.split('-')[3]!;
    const names = {
      dead: `.docsync-backup-${gone}-${host}-u2.tar.partial`,
      deadFolder: `.docsync-backup-${gone}-${host}-u2.db`,
      running: mine,
      otherHost: `.docsync-backup-${gone}-${host === '00000000' ? '11111111' : '00000000'}-u3.tar.partial`,
      notOurs: '.docsync-backup-notes.txt',
      plain: 'monday.tar',
    };
    for (const name of Object.values(names)) fs.writeFileSync(path.join(tmp.dir, name), 'x');
    expect((await sweepInterrupted(tmp.dir, '.docsync-backup-')).sort()).toEqual([names.deadFolder, names.dead].sort());
    expect(fs.readdirSync(tmp.dir).sort()).toEqual([names.running, names.otherHost, names.notOurs, names.plain].sort());
  });
});
