import { newStableId, type IdSource } from '../domain/ids.ts';
import { PreconditionFailedError } from './errors.ts';
import { remotePaths } from './paths.ts';
import type { Remote } from './remote.ts';
import { strongEtag } from './remote-metadata.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';

/** What a server honours, found out on first contact and remembered (SPEC §4, WEBDAV-NOTES.md). */
export interface RemoteCapabilities {
  /** `If-None-Match: *` on an existing file answers 412. */
  conditionalPut: boolean;
  /** A stale `If-Match` answers 412. */
  ifMatch: boolean;
  /** MKCOL of an existing folder says so: the lock is atomic. */
  exclusiveMkcol: boolean;
  /** The ETag changes on a same-size rewrite a moment (20 ms) later (informational). */
  etagChangesOnWrite: boolean;
  probed_at: string;
}

const ETAG_PAUSE_MS = 20;

/**
 * Probes the server in a scratch folder (about ten small requests) and cleans up after itself.
 * Each answer is a behaviour observed, not a version string believed.
 */
export async function probeCapabilities(remote: Remote, ids: IdSource, nowIso: string, sleep: Sleep = realSleep): Promise<RemoteCapabilities> {
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
    // Past the file system's timestamp granularity (a few ms): Apache's ETag is size + mtime.
    await sleep(ETAG_PAUSE_MS);
    await remote.put(file, Buffer.from('probe-2'));
    const after = (await remote.stat(file))?.etag;
    const etagChangesOnWrite = before !== undefined && after !== undefined && before !== after;
    // Honoured means both halves: a stale ETag is refused, and the file's own ETag is accepted (a
    // server comparing weak ETags strongly would refuse every conditional write).
    const staleRefused = await refused(() => remote.put(file, Buffer.from('probe-3'), { ifMatch: '"docsync-stale-etag"' }));
    const ifMatch = staleRefused && (await acceptsOwnEtag(remote, file));
    return { conditionalPut, ifMatch, exclusiveMkcol, etagChangesOnWrite, probed_at: nowIso };
  } finally {
    await remote.delete(dir).catch(() => undefined);
  }
}

/**
 * Whether `If-Match` with the file's own ETag (in its strong form, as the version switch sends it) is
 * accepted. Apache calls the ETag of a file written within the last second weak and refuses it then,
 * as RFC 9110 says (If-Match compares strongly); the switch waits that second out, so a refused weak
 * ETag still counts as honoured.
 */
async function acceptsOwnEtag(remote: Remote, file: string): Promise<boolean> {
  const current = (await remote.stat(file))?.etag;
  if (current === undefined) return false;
  if (!(await refused(() => remote.put(file, Buffer.from('probe-match'), { ifMatch: strongEtag(current) })))) return true;
  return current.startsWith('W/');
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
