import { describe } from 'vitest';
import { RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { startWebDavServer, webDavKindsForTests } from '../support/webdav-servers.ts';
import { RECORDED_BEHAVIOUR, runRemoteConformance } from './remote-conformance.ts';

// The same suite as memory and folder, against each real server, with its behaviour recorded.
describe.each(webDavKindsForTests())('%s', (kind) => {
  runRemoteConformance(`WebDavRemote on ${kind}`, async () => {
    const server = await startWebDavServer(kind);
    const remote = new WebDavRemote({
      baseUrl: server.baseUrl,
      username: server.username,
      password: server.password,
      remoteRoot: '/conformance',
    });
    await remote.mkdir('');
    return {
      // rclone answers 423 to overlapping PUTs: retried, as docsync always does.
      remote: new RetryingRemote(remote, { attempts: 6, baseDelayMs: 10, maxDelayMs: 200 }),
      expect: RECORDED_BEHAVIOUR[kind],
      cleanup: () => server.stop(),
    };
  });
});
