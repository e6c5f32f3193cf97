/**
 * Real-server soak (issue 6): three `docsync serve` processes and Apache mod_dav on loopback, with a
 * fault-injecting proxy between the instances and WebDAV (resets, 5xx, delays, truncated bodies).
 * Random API operations and syncs for --minutes; then the faults stop, every instance syncs until
 * quiet, and the invariants are checked through the HTTP API.
 *
 *   npm run soak -- --minutes 2 [--seed 7] [--instances 3] [--fault-rate 0.05]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { startWebDavServer } from '../test/support/webdav-servers.ts';
import { Instance, type FileJson } from './instance.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PASSWORD = 'soak-admin-password';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    instances: { type: 'string', default: '3' },
    'fault-rate': { type: 'string', default: '0.05' },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const count = Number(values.instances);
const faultRate = Number(values['fault-rate']);

/** mulberry32: the soak's one source of randomness. */
function prng(s: number): () => number {
  let state = s >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function startInstance(name: string, webdavUrl: string, server: { username: string; password: string }): Promise<Instance> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `docsync-soak-${name}-`));
  dirs.push(dataDir);
  const port = await freePort();
  const child = spawn(process.execPath, ['--max-semi-space-size=2', 'dist/cli/main.js', 'serve'], {
    cwd: REPO,
    env: {
      ...process.env,
      DOCSYNC_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      DOCSYNC_ADMIN_PASSWORD: PASSWORD,
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_LOG_LEVEL: 'error',
      DOCSYNC_LOCK_WAIT: '120',
      WEBDAV_BASE_URL: webdavUrl,
      WEBDAV_USERNAME: server.username,
      WEBDAV_PASSWORD: server.password,
      WEBDAV_REMOTE_ROOT: '/soak',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const instance = new Instance(name, `http://127.0.0.1:${port}`);
  await instance.waitUntilUp();
  await instance.login('admin', PASSWORD);
  return instance;
}

const stats = {
  operations: 0,
  created: 0,
  edited: 0,
  tagged: 0,
  deleted: 0,
  syncs: 0,
  syncsFailed: 0,
  conflictsResolved: 0,
  refused: 0,
};
/** Ids some instance deleted (ack'd), and ids some instance changed after creating them. */
const deletedIds = new Set<string>();
const changedIds = new Set<string>();
const createdIds = new Set<string>();

async function randomOperation(instances: Instance[]): Promise<void> {
  const node = pick(instances);
  const roll = random();
  stats.operations++;
  const live = () => node.list().then((files) => files.filter((f) => !f.deleted));
  if (roll < 0.25) {
    const content = `soak ${seed} ${stats.operations} ${'x'.repeat(Math.floor(random() * 5000))}`;
    const file = await node.upload(`f${stats.operations}.txt`, content, [`l${Math.floor(random() * 3)}`]);
    createdIds.add(file.stable_id);
    stats.created++;
  } else if (roll < 0.4) {
    const files = await live();
    if (files.length === 0) return;
    const file = pick(files);
    if ((await node.replace(file.stable_id, `edited ${stats.operations} by ${node.name}`)) === 'ok') {
      changedIds.add(file.stable_id);
      stats.edited++;
    } else stats.refused++;
  } else if (roll < 0.55) {
    const files = await live();
    if (files.length === 0) return;
    const file = pick(files);
    if ((await node.patch(file.stable_id, { labels: [`t${stats.operations % 5}`] })) === 'ok') {
      changedIds.add(file.stable_id);
      stats.tagged++;
    } else stats.refused++;
  } else if (roll < 0.63) {
    const files = await live();
    if (files.length === 0) return;
    const file = pick(files);
    if ((await node.remove(file.stable_id)) === 'ok') {
      deletedIds.add(file.stable_id);
      stats.deleted++;
    } else stats.refused++;
  } else if (roll < 0.93) {
    stats.syncs++;
    if (!(await node.sync(true)).ok) stats.syncsFailed++;
  } else {
    for (const conflict of await node.conflicts()) {
      if ((await node.resolve(conflict.stable_id, pick(['local_wins', 'remote_wins', 'keep_both'] as const))) === 'ok') {
        stats.conflictsResolved++;
      }
    }
  }
}

/** Syncs every instance round-robin until a whole round changes nothing; conflicts get local_wins. */
async function quiesce(instances: Instance[]): Promise<number> {
  for (let round = 1; round <= 20; round++) {
    let changed = false;
    for (const node of instances) {
      for (const conflict of await node.conflicts()) {
        await node.resolve(conflict.stable_id, 'local_wins');
        changed = true;
      }
      const result = await node.sync(false);
      if (!result.ok) throw new Error(`quiesce: sync of ${node.name} failed: ${result.message}`);
      if (!result.summary!.skipped) changed = true;
    }
    if (!changed) return round;
  }
  throw new Error('did not converge in 20 rounds');
}

async function checkInvariants(instances: Instance[]): Promise<{ files: number; lost: string[]; resurrected: string[] }> {
  const views = await Promise.all(instances.map(async (node) => ({ node, files: (await node.list()).filter((f) => !f.deleted) })));
  const describe = (f: FileJson) => JSON.stringify([f.stable_id, f.hash, f.filename, f.labels, f.collections, f.metadata, f.doc_id]);
  const reference = views[0]!.files.map(describe).sort();
  for (const view of views.slice(1)) {
    const mine = view.files.map(describe).sort();
    if (JSON.stringify(mine) !== JSON.stringify(reference)) {
      throw new Error(`invariant 1 (convergence): ${view.node.name} differs from ${views[0]!.node.name}`);
    }
  }
  for (const { node, files } of views) {
    for (const file of files) {
      const bytes = await node.content(file.stable_id);
      if (createHash('sha256').update(bytes).digest('hex') !== file.hash) {
        throw new Error(`content integrity: ${node.name} ${file.stable_id} does not match its hash`);
      }
    }
  }
  const liveIds = new Set(views[0]!.files.map((f) => f.stable_id));
  // Never deleted by anyone: must exist everywhere. Deleted and never changed by anyone: must stay gone.
  const lost = [...createdIds].filter((id) => !deletedIds.has(id) && !liveIds.has(id));
  const resurrected = [...deletedIds].filter((id) => !changedIds.has(id) && liveIds.has(id));
  return { files: liveIds.size, lost, resurrected };
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) throw new Error('run `npm run build` first');
  console.error(`soak: seed ${seed}, ${count} instances, ${minutes} min, fault rate ${faultRate}`);
  const server = await startWebDavServer('apache');
  const proxy = await startFaultProxy(new URL(server.baseUrl).origin);
  const webdavUrl = server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin);
  try {
    const instances = await Promise.all(Array.from({ length: count }, (_, i) => startInstance(`i${i + 1}`, webdavUrl, server)));
    proxy.chaos({ rate: faultRate, random });
    const deadline = Date.now() + minutes * 60_000;
    while (Date.now() < deadline) await randomOperation(instances);
    proxy.chaos(undefined);
    const faults = { ...proxy.injected };
    const rounds = await quiesce(instances);
    const result = await checkInvariants(instances);
    const table: Array<[string, string | number]> = [
      ['seed', seed],
      ['minutes', minutes],
      ['operations', stats.operations],
      ['  files created / edited / tagged / deleted', `${stats.created} / ${stats.edited} / ${stats.tagged} / ${stats.deleted}`],
      ['  syncs (failed under faults)', `${stats.syncs} (${stats.syncsFailed})`],
      ['  conflicts resolved', stats.conflictsResolved],
      ['  refused by the API (file gone meanwhile)', stats.refused],
      ['requests through the proxy', proxy.log.length],
      ['faults injected', Object.values(faults).reduce((a, b) => a + b, 0)],
      ...Object.entries(faults).map(([kind, n]) => [`  ${kind}`, n] as [string, number]),
      ['quiesce rounds', rounds],
      ['live files, identical on every instance', result.files],
      ['files lost', result.lost.length],
      ['deleted files come back', result.resurrected.length],
    ];
    for (const [label, value] of table) console.log(`${label.padEnd(48)} ${value}`);
    if (result.lost.length > 0 || result.resurrected.length > 0) {
      console.log(`FAILED: lost ${result.lost.join(', ')}; resurrected ${result.resurrected.join(', ')}`);
      process.exitCode = 1;
    } else {
      console.log('OK: converged, content verified, nothing lost');
    }
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await proxy.stop();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`soak failed (seed ${seed}):`, error);
  process.exitCode = 1;
});
