import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ManualClock, type Clock } from '../../src/domain/clock.ts';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import { FolderRemote } from '../../src/remote/folder-remote.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from '../../src/remote/remote.ts';
import { RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavServerKind, type WebDavTestServer } from './webdav-servers.ts';

export type RemoteTargetName = 'memory' | 'folder' | WebDavServerKind;

/** Every remote the shared suites run against: memory, a folder, and each real WebDAV server present. */
export function remoteTargetNames(): RemoteTargetName[] {
  return ['memory', 'folder', ...webDavKindsForTests()];
}

/** A running target: hands out fresh, empty remotes, and independent clients to each. */
export interface RemoteTarget {
  name: RemoteTargetName;
  /** A new empty remote root; `connect()` opens another client to that same root. */
  fresh(): FreshRemote;
  /** Only for the memory target: the clock its server time comes from. */
  clock?: ManualClock;
  stop(): Promise<void>;
}

export interface FreshRemote {
  connect(): Remote;
}

export async function startRemoteTarget(name: RemoteTargetName): Promise<RemoteTarget> {
  let counter = 0;
  const unique = () => `r${process.pid}-${Date.now()}-${counter++}`;
  if (name === 'memory') {
    const clock = new ManualClock(Date.now());
    return {
      name,
      clock,
      fresh: () => {
        const remote = new MemoryRemote({ clock });
        return { connect: () => remote };
      },
      stop: async () => undefined,
    };
  }
  if (name === 'folder') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-folder-remote-'));
    return {
      name,
      fresh: () => {
        const root = path.join(dir, unique());
        fs.mkdirSync(root);
        return { connect: () => withRetries(new FolderRemote(root, cryptoIdSource)) };
      },
      stop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const server: WebDavTestServer = await startWebDavServer(name);
  return {
    name,
    fresh: () => {
      const remoteRoot = `/${unique()}`;
      return {
        connect: () =>
          withRetries(
            new WebDavRemote({ baseUrl: server.baseUrl, username: server.username, password: server.password, remoteRoot }),
          ),
      };
    },
    stop: () => server.stop(),
  };
}

/** Real servers answer 423/5xx now and then (rclone during overlapping PUTs): retry as docsync does, quickly. */
function withRetries(remote: Remote): Remote {
  return new RetryingRemote(remote, { attempts: 8, baseDelayMs: 10, maxDelayMs: 200 });
}

/**
 * A client whose view of the server's clock is shifted: "later on the server" without waiting, for
 * lock expiry on real servers whose clock the test cannot move.
 */
export class ShiftedTimeRemote implements Remote {
  constructor(
    private readonly inner: Remote,
    public shiftMs: number,
  ) {}
  get description(): string {
    return this.inner.description;
  }
  get putAnswerConfirms(): boolean | undefined {
    return this.inner.putAnswerConfirms;
  }
  stat(p: string): Promise<RemoteStat | undefined> {
    return this.inner.stat(p);
  }
  get(p: string, options?: ReadOptions): Promise<Readable | undefined> {
    return this.inner.get(p, options);
  }
  getBytes(p: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.inner.getBytes(p, options);
  }
  put(p: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    return this.inner.put(p, body, options);
  }
  delete(p: string, options?: { ifMatch?: string }): Promise<boolean> {
    return this.inner.delete(p, options);
  }
  list(p: string): Promise<RemoteEntry[] | undefined> {
    return this.inner.list(p);
  }
  mkdir(p: string): Promise<'created' | 'exists'> {
    return this.inner.mkdir(p);
  }
  async serverTime(): Promise<number> {
    return (await this.inner.serverTime()) + this.shiftMs;
  }
}

/** A local clock far off the server's: what a badly set laptop has. */
export function skewedClock(offsetMs: number): Clock {
  return { now: () => Date.now() + offsetMs };
}
