import type { RemoteConfig } from '../config.ts';
import type { IdSource } from '../domain/ids.ts';
import { FolderRemote } from './folder-remote.ts';
import { ObservedRemote } from './observed-remote.ts';
import type { Remote } from './remote.ts';
import { RetryingRemote, type RetryPolicy } from './retrying-remote.ts';
import { WebDavRemote } from './webdav-remote.ts';

/** Status checks should fail fast when the server is down; four tries take under two seconds. */
export const REMOTE_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4000, jitter: true };

/**
 * The configured remote, wrapped in the retry policy; `undefined` when the instance runs standalone.
 * `onError` hears of every failed request, retried ones included (metrics).
 */
export function openRemote(config: RemoteConfig, ids: IdSource, onError: (error: unknown) => void = () => undefined): Remote | undefined {
  switch (config.kind) {
    case 'none':
      return undefined;
    case 'folder':
      return new RetryingRemote(new ObservedRemote(new FolderRemote(config.path, ids), onError), REMOTE_RETRY_POLICY);
    case 'webdav':
      return new RetryingRemote(
        new ObservedRemote(new WebDavRemote({
          baseUrl: config.baseUrl,
          username: config.username,
          password: config.password,
          remoteRoot: config.remoteRoot,
        }), onError),
        REMOTE_RETRY_POLICY,
      );
  }
}
