/**
 * The package installs: `npm pack` builds and packs what `docsync` needs, `npm install -g` of the
 * tarball into a scratch prefix gives a `docsync` command, and `docsync serve` from there answers
 * with the page and the API. Slow (a build and a native module compile), so one test does it all.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/instance.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const scratch = tempDir('docsync-pack-');
afterAll(() => scratch.remove());

/** Headers for native modules: the running Node's own, where its prefix carries them (no download). */
function nodeDirEnv(): Record<string, string> {
  if (process.env.npm_config_nodedir) return {};
  const prefix = path.dirname(path.dirname(process.execPath));
  return fs.existsSync(path.join(prefix, 'include/node/node_version.h')) ? { npm_config_nodedir: prefix } : {};
}

describe('the npm package', () => {
  it('packs, installs globally into a scratch prefix, and its docsync serve answers', async () => {
    const env = { ...process.env, ...nodeDirEnv(), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch.dir], { cwd: ROOT, env, maxBuffer: 64 << 20 });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[\s*$/m))) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toContain('bin/docsync.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files.some((f) => f.startsWith('web/dist/assets/'))).toBe(true);
    // Sources, tests and maps stay out of what users download.
    expect(files.filter((f) => /^(src|test|sim|bench)\/|\.map$/.test(f))).toEqual([]);

    const prefix = path.join(scratch.dir, 'prefix');
    // The shrinkwrap made at pack time pins what the lock file pins (npm ignores a dependency's
    // `overrides`); better-sqlite3 compiles its native module, which npm runs only when allowed.
    expect(files).toContain('npm-shrinkwrap.json');
    const installed = await run('npm', ['install', '-g', '--prefer-offline', '--allow-scripts=better-sqlite3', '--prefix', prefix, path.join(scratch.dir, info!.filename)], {
      cwd: scratch.dir,
      env,
      maxBuffer: 64 << 20,
    });
    // No engine warning on any supported Node: every range in the shrinkwrap holds without
    // `overrides` (which npm ignores in an installed package), so npm re-resolves nothing.
    const warned = [...`${installed.stdout}${installed.stderr}`.matchAll(/EBADENGINE\s+package: '([^']+)@/g)].map((m) => m[1]);
    expect(warned).toEqual([]);

    // The SQLite driver: better-sqlite3 13 (an optional dependency, left out where its engines do not
    // match) on Node 22 and later, 12 on Node 20 — 12 aborts on Node 24.19+ when a statement is collected.
    const version = await run(path.join(prefix, 'bin/docsync'), ['--version'], { env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` } });
    expect(version.stdout).toMatch(Number(process.versions.node.split('.')[0]) >= 22 ? /better-sqlite3 13\./ : /better-sqlite3 12\./);

    const child = spawn(path.join(prefix, 'bin/docsync'), ['serve', '--init'], {
      cwd: scratch.dir,
      env: {
        ...process.env,
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        DOCSYNC_DATA_DIR: path.join(scratch.dir, 'data'),
        DOCSYNC_REMOTE: 'none',
        PORT: '0',
        DOCSYNC_ADMIN_PASSWORD: 'a long enough password',
      },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`docsync serve did not start: ${output}`)), 30_000);
        const hear = (chunk: Buffer) => {
          output += chunk.toString();
          const found = /listening on (http:\/\/[^\s)]+)/.exec(output);
          if (found) {
            clearTimeout(timer);
            resolve(found[1]!);
          }
        };
        child.stdout.on('data', hear);
        child.stderr.on('data', hear);
        child.on('exit', (code) => reject(new Error(`docsync serve exited with ${code}: ${output}`)));
      });
      const health = await fetch(new URL('/api/v1/health', url));
      expect(health.status).toBe(200);
      const page = await fetch(new URL('/', url));
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script[^>]+src="[^"]*assets\//);
      const login = await fetch(new URL('/api/v1/auth/login', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'a long enough password' }),
      });
      expect(login.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  }, 900_000);
});
