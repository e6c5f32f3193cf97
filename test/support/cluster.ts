import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config.ts';
import type { Clock } from '../../src/domain/clock.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import type { SyncCheckpoint, SyncOptions } from '../../src/sync/engine.ts';
import type { SyncSummary } from '../../src/sync/events.ts';
import type { FreshRemote } from './remote-targets.ts';
import { tempDir } from './instance.ts';
import { raceBeforeSwitch } from './race.ts';

/** One docsync instance of a test cluster: its own data dir, a client of the shared remote. */
export interface Node {
  name: string;
  docsync: Docsync;
  dataDir: string;
  /** Set to make the next sync stop at that point as a killed process would. */
  crashAt: SyncCheckpoint | undefined;
  /**
   * Set to run something right before this node's next PUT of version.txt reaches the server (after
   * all its checks, as if it froze there); cleared when it runs.
   */
  beforeSwitchPut: (() => Promise<void>) | undefined;
  sync(options?: SyncOptions): Promise<SyncSummary>;
  put(filename: string, content: string, extra?: { collections?: string[]; labels?: string[] }): Promise<FileRecord>;
  edit(id: string, content: string): Promise<FileRecord>;
  content(id: string): Promise<string>;
  /** Live files as `filename → content`. */
  contents(): Promise<Record<string, string>>;
  live(): FileRecord[];
  close(): void;
}

export interface Cluster {
  nodes: Node[];
  close(): void;
}

/** `names.length` instances on one fresh remote; `clock`, when given, is every instance's clock. */
export function startCluster(fresh: FreshRemote, names: string[] = ['a', 'b'], env: Record<string, string> = {}, clock?: Clock): Cluster {
  const nodes = names.map((name, i) => startNode(fresh, name, 1000 + i, env, clock));
  return { nodes, close: () => nodes.forEach((n) => n.close()) };
}

export function startNode(fresh: FreshRemote, name: string, seed: number, env: Record<string, string> = {}, clock?: Clock): Node {
  const dir = tempDir(`docsync-${name}-`);
  const config = loadConfig(
    { DOCSYNC_DATA_DIR: dir.dir, DOCSYNC_REMOTE: 'file:///configured-but-replaced', DOCSYNC_LOCK_WAIT: '60', DOCSYNC_LOG_LEVEL: 'silent', ...env },
    {},
    dir.dir,
  );
  const node: Node = {
    name,
    dataDir: dir.dir,
    crashAt: undefined,
    beforeSwitchPut: undefined,
    docsync: undefined as unknown as Docsync,
    sync: (options) => node.docsync.sync.sync(options),
    put: (filename, content, extra = {}) => node.docsync.files.create(Readable.from([Buffer.from(content)]), { filename, ...extra }),
    edit: (id, content) => node.docsync.files.replaceContent(id, Readable.from([Buffer.from(content)])),
    content: async (id) => {
      const chunks: Buffer[] = [];
      for await (const chunk of node.docsync.files.openContent(node.docsync.files.get(id))) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString();
    },
    contents: async () => {
      const out: Record<string, string> = {};
      for (const file of node.live()) out[file.filename] = await node.content(file.stable_id);
      return out;
    },
    live: () => node.docsync.files.list({ limit: 1000 }).files,
    close: () => {
      node.docsync.close();
      dir.remove();
    },
  };
  node.docsync = openDocsync(config, {
    ids: seededIdSource(seed),
    ...(clock && { clock }),
    remote: raceBeforeSwitch(fresh.connect(), () => {
      const run = node.beforeSwitchPut;
      node.beforeSwitchPut = undefined;
      return run;
    }),
    sync: {
      checkpoint: async (point) => {
        if (node.crashAt === point) {
          node.crashAt = undefined;
          const { SimulatedCrash } = await import('../../src/sync/engine.ts');
          throw new SimulatedCrash(point);
        }
      },
    },
  });
  return node;
}
