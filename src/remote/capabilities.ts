import { newStableId, type IdSource } from '../domain/ids.ts';
import { PreconditionFailedError } from './errors.ts';
import { remotePaths } from './paths.ts';
import type { Remote } from './remote.ts';

/** What a server honours, found out on first contact and remembered (SPEC §4, WEBDAV-NOTES.md). */
export interface RemoteCapabilities {
  /** `If-None-Match: *` on an existing file answers 412. */
  conditionalPut: boolean;
  /** A stale `If-Match` answers 412. */
  ifMatch: boolean;
  /** MKCOL of an existing folder says so: the lock is atomic. */
  exclusiveMkcol: boolean;
  /** The ETag changes on every write, even same-size rewrites within one second. */
  etagChangesOnWrite: boolean;
  probed_at: string;
}

/**
 * Probes the server in a scratch folder (about ten small requests) and cleans up after itself.
 * Each answer is a behaviour observed, not a version string believed.
 */
export async function probeCapabilities(remote: Remote, ids: IdSource, nowIso: string): Promise<RemoteCapabilities> {
  await remote.mkdir('');
  await remote.mkdir(remotePaths.probeDir);
  const dir = remotePaths.probe(newStableId(ids));
  await remote.mkdir(dir);
  try {
    const exclusiveMkcol = (await remote.mkdir(dir)) === 'exists';
    const file = `${dir}/probe.txt`;
    await remote.put(file, Buffer.from('probe-1'));
    const conditionalPut = await refused(() => remote.put(file, Buffer.from('probe-X'), { ifNoneMatch: '*' }));
    await remote.put(file, Buffer.from('probe-1'));
    const before = (await remote.stat(file))?.etag;
    await remote.put(file, Buffer.from('probe-2'));
    const after = (await remote.stat(file))?.etag;
    const etagChangesOnWrite = before !== undefined && after !== undefined && before !== after;
    const ifMatch = await refused(() => remote.put(file, Buffer.from('probe-3'), { ifMatch: '"docsync-stale-etag"' }));
    return { conditionalPut, ifMatch, exclusiveMkcol, etagChangesOnWrite, probed_at: nowIso };
  } finally {
    await remote.delete(dir).catch(() => undefined);
  }
}

async function refused(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return false;
  } catch (error) {
    if (error instanceof PreconditionFailedError) return true;
    throw error;
  }
}
