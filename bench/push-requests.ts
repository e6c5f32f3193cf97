/**
 * `push` section: how many HTTP requests a push makes on loopback Apache (what a hosted server's
 * rate limit counts), by method and by what they carry (blob, snapshot, control: version.txt, the
 * lock), and the blob bytes sent. Counted at a proxy in front of the server (every request is logged,
 * in order, on stderr); bytes by a `MeteredRemote`. Each push goes to a remote that already holds a
 * repository (one file) made by this build, so all its shard folders exist:
 *  1. one new file;
 *  2. 300 new files (1 KB);
 *  3. 300 more, a sync killed after its blob uploads, then the sync that completes it.
 * Then on a remote whose empty shard folders were removed (what a remote made by an earlier build
 * looks like): 4. one new file; 5. 300 new files — the fallback, MKCOL where a folder is missing.
 * Targets (the issue): one file ≤ 8 requests; 300 files ≤ 1.3 requests per file.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../src/config.ts';
import { openDocsync, type Docsync } from '../src/docsync.ts';
import { REMOTE_RETRY_POLICY } from '../src/remote/open-remote.ts';
import { RetryingRemote } from '../src/remote/retrying-remote.ts';
import { WebDavRemote } from '../src/remote/webdav-remote.ts';
import { SimulatedCrash, type SyncCheckpoint } from '../src/sync/engine.ts';
import { startWebDavServer, type WebDavTestServer } from '../test/support/webdav-servers.ts';
import { tempDir } from './cleanup.ts';
import { BENCH_PASSWORD } from './instance.ts';
import { describeCalls, MeteredRemote, startCountingProxy } from './remote-meter.ts';
import { fixed, int, sourceLine, type Row, type Table } from './table.ts';

const ONE_FILE_TARGET = 8;
const PER_FILE_TARGET = 1.3;
const BATCH = 300;
const FILE_BYTES = 1024;

type Log = (line: string) => void;

interface Measured {
  label: string;
  files: number;
  requests: number;
  byMethod: string;
  blobBytes: number;
  target?: number;
}

interface PushInstance {
  docsync: Docsync;
  /** The next sync stops (as if killed) at this point. */
  crashAt(point: SyncCheckpoint): void;
  /** Counts what `work` sends, from a clean slate, and logs each request. */
  count(label: string, files: number, work: () => Promise<unknown>, target?: number): Promise<Measured>;
  /** Writes `n` new files of `FILE_BYTES` random bytes. */
  add(n: number): Promise<void>;
  close(): Promise<void>;
}

/** An instance syncing with `remoteRoot` on `server`, through a counting proxy; it made the repository there. */
async function openPushInstance(server: WebDavTestServer, dir: string, remoteRoot: string, log: Log): Promise<PushInstance> {
  const proxy = await startCountingProxy(server.baseUrl, remoteRoot);
  let crashAt: SyncCheckpoint | undefined;
  const config = loadConfig(
    {
      DOCSYNC_DATA_DIR: dir,
      WEBDAV_BASE_URL: proxy.baseUrl,
      WEBDAV_USERNAME: server.username,
      WEBDAV_PASSWORD: server.password,
      WEBDAV_REMOTE_ROOT: remoteRoot,
      DOCSYNC_SYNC_INTERVAL: '0',
      DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD,
      DOCSYNC_LOG_LEVEL: 'silent',
    },
    {},
    dir,
  );
  const meter = new MeteredRemote(
    new WebDavRemote({ baseUrl: proxy.baseUrl, username: server.username, password: server.password, remoteRoot }),
  );
  const docsync: Docsync = openDocsync(config, {
    remote: new RetryingRemote(meter, REMOTE_RETRY_POLICY),
    sync: {
      checkpoint: (point: SyncCheckpoint) => {
        if (point !== crashAt) return;
        crashAt = undefined;
        throw new SimulatedCrash(point);
      },
    },
  });
  const add = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await docsync.files.create(Readable.from([randomBytes(FILE_BYTES)]), { filename: `f-${randomBytes(6).toString('hex')}.pdf` });
    }
  };
  try {
    await docsync.sync.capabilities(); // The first contact's probe, not part of any push.
    await add(1);
    await docsync.sync.sync();
  } catch (error) {
    docsync.close();
    await proxy.close();
    throw error;
  }
  return {
    docsync,
    add,
    crashAt: (point) => (crashAt = point),
    count: async (label, files, work, target) => {
      proxy.take();
      meter.take();
      await work();
      const requests = proxy.take();
      const bytes = meter.take();
      log(`push: ${label}: ${requests.total} requests`);
      for (const line of requestList(requests.log)) log(`push:   ${line}`);
      return { label, files, requests: requests.total, byMethod: describeCalls(requests.byKey), blobBytes: bytes.up.blob, ...(target && { target }) };
    },
    close: async () => {
      docsync.close();
      await proxy.close();
    },
  };
}

export async function benchPushRequests(log: Log): Promise<Table> {
  const tmp = tempDir('push');
  const server = await startWebDavServer('apache');
  const results: Measured[] = [];
  try {
    const made = await openPushInstance(server, path.join(tmp.dir, 'a'), '/push-requests', log);
    try {
      const { docsync, add, count } = made;
      await add(1);
      results.push(await count('1 new file', 1, () => docsync.sync.sync(), ONE_FILE_TARGET));
      await add(BATCH);
      results.push(await count(`${BATCH} new files`, BATCH, () => docsync.sync.sync(), PER_FILE_TARGET * BATCH));
      await add(BATCH);
      made.crashAt('after_blob_upload');
      results.push(await count(`${BATCH} new files, killed after blob upload`, BATCH, () => docsync.sync.sync().catch(() => undefined)));
      results.push(await count('… then the sync that completes it', BATCH, () => docsync.sync.sync()));
    } finally {
      await made.close();
    }
    // A remote whose shard folders are not all there (made by an earlier build, or emptied by hand):
    // the empty ones are removed after the first sync, and pushes find them missing.
    const older = await openPushInstance(server, path.join(tmp.dir, 'b'), '/push-requests-old', log);
    try {
      const remote = new WebDavRemote({ baseUrl: server.baseUrl, username: server.username, password: server.password, remoteRoot: '/push-requests-old' });
      for (const entry of (await remote.list('')) ?? []) {
        if (entry.isDirectory && /^[0-9a-f]{2}$/.test(entry.name) && (await remote.list(entry.name))?.length === 0) await remote.delete(entry.name);
      }
      const { docsync, add, count } = older;
      await add(1);
      results.push(await count('1 new file, shard folders missing', 1, () => docsync.sync.sync()));
      await add(BATCH);
      results.push(await count(`${BATCH} new files, shard folders missing`, BATCH, () => docsync.sync.sync()));
    } finally {
      await older.close();
    }
    return pushTable(results);
  } finally {
    await server.stop();
    tmp.remove();
  }
}

/**
 * The requests of one push in order, for the log: all of them, except that blob PUTs and shard
 * MKCOLs (one line each per file) are folded into a count where they are many.
 */
function requestList(lines: string[]): string[] {
  if (lines.length <= 40) return lines;
  const blobLine = /^(PUT|MKCOL|PROPFIND) \/[0-9a-f]{2}(\/[0-9a-f]{64}\.[a-z0-9.]+)? /;
  const folded = new Map<string, number>();
  const kept: string[] = [];
  for (const line of lines) {
    const match = blobLine.exec(line);
    if (!match) {
      kept.push(line);
      continue;
    }
    const key = `${match[1]} ${match[2] ? 'blob' : 'shard'} → ${line.split('→ ')[1]}`;
    folded.set(key, (folded.get(key) ?? 0) + 1);
  }
  return [...kept, ...[...folded].map(([key, n]) => `${key} ×${n}`)];
}

function pushTable(results: Measured[]): Table {
  const rows: Row[] = results.map((r) => ({
    cells: [r.label, int(r.requests), fixed(r.requests / r.files, 2), int(r.blobBytes), r.byMethod],
    ...(r.target !== undefined && { ok: r.requests <= r.target }),
  }));
  return {
    title: 'push: HTTP requests per push (loopback Apache, counted at a proxy)',
    columns: ['push', 'requests', 'per file', 'blob bytes up', 'requests by method and kind'],
    textColumns: [4],
    rows,
    notes: [
      `Files of ${FILE_BYTES} bytes; each push goes to a remote that already holds a repository made by this build (all 256 shard folders made at its creation), the last two to one whose empty shard folders were removed (a remote made by an earlier build). Targets: 1 file ≤ ${ONE_FILE_TARGET} requests, ${BATCH} files ≤ ${PER_FILE_TARGET} per file.`,
      'Kinds: blob = a content file or its shard folder (MKCOL, listing); snapshot = metadata/*.db; control = version.txt, the lock, the metadata folder, the root.',
      sourceLine(),
    ],
  };
}
