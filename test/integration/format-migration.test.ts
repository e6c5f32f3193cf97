/**
 * Migration of a format-1 remote (docs/design.md#remote-layout-format-2): the previous release's build — the last format-1 commit,
 * checked out in a git worktree and run as its own CLI — makes a remote; this build converts it on
 * its first sync (nothing lost, the repository kept); the old build then refuses that remote and
 * writes nothing; and the old instance, upgraded, publishes what it still held. On the folder remote
 * and every real WebDAV server.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import { FolderRemote } from '../../src/remote/folder-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { parseVersionFile } from '../../src/remote/version-file.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { runCliCaptured, type CliRun } from '../support/cli.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

/** The last commit that writes format 1 (the release before format 2). */
const FORMAT1_COMMIT = '050e2af01780e5060af36658ceadf893a0271a5f';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
let work: string;
let oldBuild: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-migration-'));
  oldBuild = path.join(work, 'format1');
  try {
    execFileSync('git', ['-C', repoRoot, 'cat-file', '-e', `${FORMAT1_COMMIT}^{commit}`], { stdio: 'pipe' });
  } catch {
    // A shallow clone lacks it: fetch that one commit (CI clones whole, so this is for local copies).
    execFileSync('git', ['-C', repoRoot, 'fetch', '--depth=1', 'origin', FORMAT1_COMMIT], { stdio: 'pipe' });
  }
  execFileSync('git', ['-C', repoRoot, 'worktree', 'add', '--detach', oldBuild, FORMAT1_COMMIT], { stdio: 'pipe' });
  // Same dependencies: the old build runs from its own sources on this install's packages.
  linkDependencies(path.join(repoRoot, 'node_modules'), path.join(oldBuild, 'node_modules'));
}, 120_000);

/**
 * The old build's node_modules: each package of this install, linked. The old build loads
 * better-sqlite3 12 by name, which on Node 24.19 and later can abort the process as it exits (a
 * statement collected after the environment is gone: the reason this build prefers better-sqlite3
 * 13, `src/store/sqlite.ts`); its commands then exit non-zero after doing their work. Where 13 is
 * installed (as `better-sqlite3-napi`, the same API), the old build gets it under the old name.
 */
function linkDependencies(from: string, to: string): void {
  fs.mkdirSync(to);
  for (const name of fs.readdirSync(from)) fs.symlinkSync(path.join(from, name), path.join(to, name));
  const napi = path.join(from, 'better-sqlite3-napi');
  if (fs.existsSync(napi)) {
    fs.rmSync(path.join(to, 'better-sqlite3'));
    fs.symlinkSync(napi, path.join(to, 'better-sqlite3'));
  }
}

afterAll(() => {
  fs.rmSync(path.join(oldBuild, 'node_modules'), { recursive: true, force: true });
  execFileSync('git', ['-C', repoRoot, 'worktree', 'remove', '--force', oldBuild], { stdio: 'pipe' });
  fs.rmSync(work, { recursive: true, force: true });
});

/** The old build's CLI, as a user of the previous release runs it. */
async function oldCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(oldBuild, 'src/cli/main.ts'), ...args], {
      cwd: oldBuild,
      env: { PATH: process.env.PATH ?? '', HOME: work, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    // A non-zero exit, a kill (the timeout, a signal) or a failed spawn: the message says which.
    const failed = error as { code?: number | string; signal?: string; message?: string; stdout?: string; stderr?: string };
    const why = `[${failed.signal ? `killed by ${failed.signal}` : `code ${String(failed.code)}`}] ${failed.message ?? ''}`;
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: `${failed.stderr ?? ''}\n${why}` };
  }
}

/** Asserts that a CLI run exited 0, with what it printed as the message when it did not. */
function succeeded(run: CliRun): void {
  expect(run.code, `exit ${run.code}\n${run.stderr}\n${run.stdout}`).toBe(0);
}

/** This build's CLI. */
function newCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runCliCaptured(args, { env: { HOME: work, ...env }, cwd: work });
}

interface Listed {
  stable_id: string;
  filename: string;
  labels: string[];
  collections: string[];
}

/** The live files of an instance, by this build's CLI. */
async function filesOf(env: Record<string, string>): Promise<Listed[]> {
  return (JSON.parse((await newCli(['files', 'ls', '--json'], env)).stdout) as { files: Listed[] }).files;
}

interface Target {
  env: Record<string, string>;
  client: () => Remote;
}

const kinds = ['folder', ...webDavKindsForTests()] as const;

describe.each(kinds)('format-1 remote migrated on %s', (kind) => {
  let server: WebDavTestServer | undefined;
  let target: Target;
  beforeAll(async () => {
    const root = `/migration-${process.pid}-${Date.now()}`;
    if (kind === 'folder') {
      const dir = path.join(work, `remote-${Date.now()}`);
      fs.mkdirSync(dir);
      target = { env: { DOCSYNC_REMOTE: `file://${dir}` }, client: () => new FolderRemote(dir, cryptoIdSource) };
      return;
    }
    server = await startWebDavServer(kind);
    const s = server;
    target = {
      env: { WEBDAV_BASE_URL: s.baseUrl, WEBDAV_USERNAME: s.username, WEBDAV_PASSWORD: s.password, WEBDAV_REMOTE_ROOT: root },
      client: () => new WebDavRemote({ baseUrl: s.baseUrl, username: s.username, password: s.password, remoteRoot: root }),
    };
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const instance = (name: string) => {
    const dataDir = path.join(work, `${kind}-${name}`);
    // The CLI opens an existing data dir only (a mistyped path must not become a new, empty store).
    fs.mkdirSync(dataDir, { recursive: true });
    return { ...target.env, DOCSYNC_DATA_DIR: dataDir };
  };
  const versionText = async () => (await target.client().getBytes(remotePaths.versionFile))?.toString('utf8') ?? '';
  const listing = async () => {
    const names = new Set<string>();
    for (const dir of ['', 'metadata', 'snapshots', 'journal']) {
      for (const entry of (await target.client().list(dir)) ?? []) names.add(`${dir}/${entry.name}`);
    }
    return [...names].sort();
  };
  const file = (name: string, text: string) => {
    const p = path.join(work, `files-${kind}`, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };

  it('the old build makes a format-1 remote; this build converts it on its first sync and loses nothing', async () => {
    const a = instance('old-a');
    succeeded(await oldCli(['files', 'put', file('report.pdf', '%PDF-1.4 report'), '--label', 'draft', '--collection', 'lab'], a));
    succeeded(await oldCli(['files', 'put', file('notes.txt', 'plain notes')], a));
    const first = await oldCli(['sync'], a);
    expect(first.code, first.stderr).toBe(0);
    const before = parseVersionFile(await versionText());
    expect(before.format).toBe(1);

    const b = instance('new-b');
    const migrated = await newCli(['sync', '--json'], b);
    expect(migrated.code, migrated.stderr).toBe(0);
    const after = parseVersionFile(await versionText());
    expect(after).toMatchObject({ format: 2, repo: before.repo, version: before.version + 1 });
    expect(after.recent).toContain(before.commit);
    const listed = await filesOf(b);
    expect(listed.map((f) => f.filename).sort()).toEqual(['notes.txt', 'report.pdf']);
    expect(listed.find((f) => f.filename === 'report.pdf')).toMatchObject({ labels: ['draft'], collections: ['lab'] });
  }, 180_000);

  it('the old build then refuses the format-2 remote and writes nothing to it', async () => {
    const a = instance('old-a');
    succeeded(await oldCli(['files', 'put', file('late.txt', 'written by the old build after the upgrade elsewhere')], a));
    const textBefore = await versionText();
    const filesBefore = await listing();
    const refused = await oldCli(['sync'], a);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/version\.txt/);
    // A fresh old-build instance: refused too, and it does not take the remote for an empty one.
    const fresh = await oldCli(['sync'], instance('old-fresh'));
    expect(fresh.code).not.toBe(0);
    expect(await versionText()).toBe(textBefore);
    expect(await listing()).toEqual(filesBefore);
  }, 180_000);

  it('the old instance, upgraded to this build, publishes what it still held; others get it', async () => {
    const a = instance('old-a');
    const upgraded = await newCli(['sync', '--json'], a);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const b = instance('new-b');
    succeeded(await newCli(['sync'], b));
    const names = (await filesOf(b)).map((f) => f.filename).sort();
    expect(names).toEqual(['late.txt', 'notes.txt', 'report.pdf']);
    const c = instance('new-c');
    succeeded(await newCli(['sync'], c));
    const late = (await filesOf(c)).find((f) => f.filename === 'late.txt')!;
    const got = await newCli(['files', 'get', late.stable_id, '-o', path.join(work, `${kind}-late-copy.txt`)], c);
    expect(got.code, got.stderr).toBe(0);
    expect(fs.readFileSync(path.join(work, `${kind}-late-copy.txt`), 'utf8')).toBe('written by the old build after the upgrade elsewhere');
  }, 180_000);
});
