import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import { REMOTE_OPERATIONS } from '../../src/remote/faults.ts';
import { FolderRemote } from '../../src/remote/folder-remote.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { RECORDED_BEHAVIOUR, runRemoteConformance } from './remote-conformance.ts';

runRemoteConformance('MemoryRemote', async () => ({
  remote: new MemoryRemote(),
  expect: RECORDED_BEHAVIOUR.ideal,
  cleanup: async () => {},
}));

runRemoteConformance('FolderRemote', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'docsync-folder-remote-'));
  return {
    remote: new FolderRemote(dir, cryptoIdSource),
    expect: RECORDED_BEHAVIOUR.ideal,
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
});

// A flaky server behind RetryingRemote must look like a healthy one. The rules fail calls before
// they do anything: every third call a 503, and every fifth of the others a 423 — never more than
// two failures in a row, so six attempts always suffice.
runRemoteConformance('RetryingRemote over a flaky MemoryRemote', async () => {
  const memory = new MemoryRemote();
  const every = (n: number) => {
    let seen = 0;
    return () => ++seen % n === 0;
  };
  memory.faults.inject({ op: REMOTE_OPERATIONS, path: every(3), times: Infinity, effect: { kind: 'error', status: 503 } });
  memory.faults.inject({ op: REMOTE_OPERATIONS, path: every(5), times: Infinity, effect: { kind: 'error', status: 423 } });
  return {
    remote: new RetryingRemote(memory, { attempts: 6, baseDelayMs: 1, maxDelayMs: 1 }, async () => {}),
    expect: RECORDED_BEHAVIOUR.ideal,
    cleanup: async () => {},
  };
});
