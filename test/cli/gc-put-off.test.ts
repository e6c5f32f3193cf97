import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

/**
 * The automatic GC after a commit waits until the instance has watched a whole history window (30
 * days by default). Until then every sync used to say "Garbage collection put off: …": on every
 * sync, for a month. It is said once per reason now; `docsync gc` still says why each time.
 */
describe('automatic GC put off', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    fs.mkdirSync(path.join(tmp.dir, 'data'));
  });
  afterEach(() => tmp.remove());

  const cli = (args: string[]) => runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data') }, cwd: tmp.dir });

  it('is said at the first sync that puts it off, not at every one after', async () => {
    let said = 0;
    for (let i = 0; i < 4; i++) {
      fs.writeFileSync(path.join(tmp.dir, `f${i}.txt`), `file ${i}`);
      expect((await cli(['files', 'put', `f${i}.txt`])).code).toBe(0);
      const out = await cli(['sync']);
      expect(out.code, out.stderr).toBe(0);
      said += (out.stdout + out.stderr).split('Garbage collection put off').length - 1;
    }
    expect(said).toBe(1);
    // Asked for, gc says why it did not touch the remote, every time.
    for (let i = 0; i < 2; i++) {
      const gc = await cli(['gc']);
      expect(gc.stdout).toMatch(/remote: not collected \(.*30-day window/);
    }
  });
});
