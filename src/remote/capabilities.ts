import { newStableId, type IdSource } from '../domain/ids.ts';
import { PreconditionFailedError, RemoteUnavailableError } from './errors.ts';
import { remotePaths } from './paths.ts';
import type { Remote } from './remote.ts';
import { strongEtag } from './remote-metadata.ts';
import { realSleep, type Sleep } from './retrying-remote.ts';

/** What a server honours, found out on first contact and remembered (docs/webdav-servers.md). */
export interface RemoteCapabilities {
  /** `If-None-Match: *` on an existing file answers 412. */
  conditionalPut: boolean;
  /** A stale `If-Match` answers 412. */
  ifMatch: boolean;
  /**
   * The lock is atomic: MKCOL of an existing folder says so, and a MKCOL that fails is reported as
   * failed (where it is not, two racers can both be told 'created').
   */
  exclusiveMkcol: boolean;
  /** The ETag changes on a same-size rewrite a moment (20 ms) later (informational). */
  etagChangesOnWrite: boolean;
  probed_at: string;
}

const ETAG_PAUSE_MS = 20;

/** Longer than any common file system allows in one name (255 bytes), so its mkdir() must fail. */
const UNMAKEABLE_NAME = 'n'.repeat(300);

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
    const exclusiveMkcol = (await remote.mkdir(dir)) === 'exists' && (await reportsFailedMkcol(remote, dir));
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
 * Whether a MKCOL that creates nothing says so. sabre/dav over a file system (Debian's 1.8, the
 * library under Nextcloud and ownCloud) ignores a failed mkdir() and answers 201: the loser of two
 * simultaneous MKCOLs is told 'created' too (16 of 300 rounds with 3 racers measured), although one
 * client's MKCOL of an existing folder is refused as anywhere else. A race is too rare to see in a
 * probe (about 1 round in 12); a folder name too long for the file system makes mkdir() fail every
 * time: 'created' for a folder that is not there afterwards is that same ignored failure, seen in two
 * requests. Apache, nginx, lighttpd and rclone refuse the name (403/409/405); Nextcloud's own storage
 * checks its mkdir, and a server whose file system takes the name simply has the folder.
 */
async function reportsFailedMkcol(remote: Remote, dir: string): Promise<boolean> {
  const path = `${dir}/${UNMAKEABLE_NAME}`;
  try {
    if ((await remote.mkdir(path)) === 'exists') return true;
  } catch (error) {
    // Refused: what an atomic server does. Only an unreachable server leaves the question open.
    if (error instanceof RemoteUnavailableError && error.remoteStatus === undefined) throw error;
    return true;
  }
  const made = await remote.stat(path).catch(() => undefined);
  return made?.isDirectory === true;
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
