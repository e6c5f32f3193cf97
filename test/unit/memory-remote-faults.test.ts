import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { PreconditionFailedError, RemoteAuthError, RemoteError, RemoteUnavailableError } from '../../src/remote/errors.ts';
import { REMOTE_OPERATIONS, type FaultEffect, type RemoteOperation } from '../../src/remote/faults.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { RetryingRemote, type RetryPolicy } from '../../src/remote/retrying-remote.ts';

const DATA = Buffer.from('0123456789abcdef'); // 16 bytes: half is 8

/** One call of each operation against a folder `d` holding `d/f.txt`. */
const CALLS: Record<RemoteOperation, (remote: Remote) => Promise<unknown>> = {
  stat: (r) => r.stat('d/f.txt'),
  get: (r) => r.get('d/f.txt'),
  getBytes: (r) => r.getBytes('d/f.txt'),
  put: (r) => r.put('d/f.txt', Buffer.from('new')),
  delete: (r) => r.delete('d/f.txt'),
  list: (r) => r.list('d'),
  mkdir: (r) => r.mkdir('d/sub'),
  serverTime: (r) => r.serverTime(),
};

let clock: ManualClock;
let slept: number[];
let memory: MemoryRemote;

beforeEach(async () => {
  clock = new ManualClock();
  slept = [];
  memory = new MemoryRemote({ clock, sleep: async (ms) => void slept.push(ms) });
  await memory.mkdir('d');
  await memory.put('d/f.txt', DATA);
  memory.resetCounts();
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('MemoryRemote basics', () => {
  it('takes serverTime and modifiedAt from the injected clock', async () => {
    clock.advance(5_000);
    await memory.put('d/g.txt', Buffer.from('g'));
    expect(await memory.serverTime()).toBe(clock.now());
    expect((await memory.stat('d/g.txt'))?.modifiedAt).toBe(clock.now());
  });

  it('gives every write a new ETag, also for identical bytes', async () => {
    const first = await memory.put('d/g.txt', Buffer.from('same'));
    const second = await memory.put('d/g.txt', Buffer.from('same'));
    expect(first.etag).not.toBe(second.etag);
  });

  it('counts requests per operation, failed ones included', async () => {
    memory.faults.inject({ op: 'stat', effect: { kind: 'error', status: 500 } });
    await expect(memory.stat('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    await memory.stat('d/f.txt');
    await memory.getBytes('d/f.txt');
    expect(memory.requests.stat).toBe(2);
    expect(memory.requests.getBytes).toBe(1);
    expect(memory.requestCount).toBe(3);
  });

  it('snapshot() is a copy of all files', async () => {
    const snapshot = memory.snapshot();
    expect([...snapshot.keys()]).toEqual(['d/f.txt']);
    snapshot.get('d/f.txt')!.fill(0);
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA);
  });

  it('refuses a put into a missing folder and a body shorter than announced', async () => {
    await expect(memory.put('nope/x', Buffer.from('x'))).rejects.toThrow(RemoteError);
    const short = { size: 10, open: () => Readable.from([Buffer.from('abc')]) };
    await expect(memory.put('d/short', short)).rejects.toThrow(/announced size/);
    expect(await memory.stat('d/short')).toBeUndefined();
  });

  it('decides racing conditional creates and mkdirs atomically: one winner', async () => {
    const slowBody = (i: number) => ({ size: 1, open: () => Readable.from((async function* () {
      await new Promise((r) => setTimeout(r, i % 3));
      yield Buffer.from([i]);
    })()) });
    const puts = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
      memory.put('d/race', slowBody(i), { ifNoneMatch: '*' })));
    expect(puts.filter((p) => p.status === 'fulfilled')).toHaveLength(1);
    expect(puts.filter((p) => p.status === 'rejected' && p.reason instanceof PreconditionFailedError)).toHaveLength(19);
    const mkdirs = await Promise.all(Array.from({ length: 20 }, () => memory.mkdir('d/lock')));
    expect(mkdirs.filter((m) => m === 'created')).toHaveLength(1);
  });
});

describe('MemoryRemote fault injection', () => {
  it.each([503, 423, 500, 429] as const)('error %i throws RemoteUnavailableError with that status, and the call has no effect', async (status) => {
    memory.faults.inject({ op: 'put', effect: { kind: 'error', status } });
    const error = await memory.put('d/f.txt', Buffer.from('lost')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteUnavailableError);
    expect((error as RemoteError).remoteStatus).toBe(status);
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA);
  });

  it('auth throws RemoteAuthError; precondition throws PreconditionFailedError on any call', async () => {
    memory.faults.inject({ op: 'list', effect: { kind: 'auth', status: 401 } });
    memory.faults.inject({ op: 'put', effect: { kind: 'precondition' } });
    await expect(memory.list('d')).rejects.toThrow(RemoteAuthError);
    await expect(memory.put('d/new.txt', Buffer.from('x'))).rejects.toThrow(PreconditionFailedError);
    expect(await memory.stat('d/new.txt')).toBeUndefined();
  });

  it('applies `times` calls, then stops', async () => {
    const fault = memory.faults.inject({ op: 'stat', times: 2, effect: { kind: 'error', status: 503 } });
    await expect(memory.stat('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    await expect(memory.stat('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    expect(await memory.stat('d/f.txt')).toMatchObject({ size: 16 });
    expect(fault.hits).toBe(2);
    expect(memory.faults.pending).toHaveLength(0);
  });

  it('matches a path prefix or a predicate, and only the named operations', async () => {
    memory.faults.inject({ op: ['getBytes', 'stat'], path: 'd/f', times: Infinity, effect: { kind: 'error', status: 503 } });
    memory.faults.inject({ op: 'put', path: (p) => p.endsWith('.lock'), effect: { kind: 'error', status: 423 } });
    await expect(memory.getBytes('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    await expect(memory.stat('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    expect(await memory.get('d/f.txt')).toBeDefined(); // other operation
    expect(await memory.list('d')).toHaveLength(1); // other path
    await memory.put('d/other', Buffer.from('x')); // predicate false
    await expect(memory.put('d/x.lock', Buffer.from('x'))).rejects.toThrow(RemoteUnavailableError);
  });

  it('cancel() withdraws a rule; clear() withdraws all', async () => {
    memory.faults.inject({ op: 'stat', times: Infinity, effect: { kind: 'error', status: 503 } }).cancel();
    expect(await memory.stat('d/f.txt')).toBeDefined();
    memory.faults.inject({ op: 'get', times: Infinity, effect: { kind: 'error', status: 503 } });
    memory.faults.clear();
    expect(await memory.get('d/f.txt')).toBeDefined();
  });

  it('reset fails the call, but a get stream only part way through', async () => {
    memory.faults.inject({ op: ['stat', 'get'], times: 2, effect: { kind: 'reset' } });
    await expect(memory.stat('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    const stream = (await memory.get('d/f.txt'))!;
    const received: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk as Buffer);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteUnavailableError);
    expect(Buffer.concat(received)).toEqual(DATA.subarray(0, 8));
  });

  it('lostWrite acknowledges a put but stores nothing', async () => {
    memory.faults.inject({ op: 'put', effect: { kind: 'lostWrite' } });
    const result = await memory.put('d/f.txt', Buffer.from('never stored'));
    expect(result.etag).toBeDefined();
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA);
  });

  it('lostResponse does the work, then fails', async () => {
    memory.faults.inject({ op: ['put', 'mkdir'], times: 2, effect: { kind: 'lostResponse' } });
    await expect(memory.put('d/f.txt', Buffer.from('stored'))).rejects.toThrow(RemoteUnavailableError);
    await expect(memory.mkdir('d/made')).rejects.toThrow(RemoteUnavailableError);
    expect(await memory.getBytes('d/f.txt')).toEqual(Buffer.from('stored'));
    expect(await memory.stat('d/made')).toMatchObject({ isDirectory: true });
  });

  it('truncate returns only the first half, ending normally', async () => {
    memory.faults.inject({ op: ['get', 'getBytes'], times: 2, effect: { kind: 'truncate' } });
    expect(await readAll((await memory.get('d/f.txt'))!)).toEqual(DATA.subarray(0, 8));
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA.subarray(0, 8));
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA);
  });

  it('delay awaits the injected sleep, delays add up, and the next rule still applies', async () => {
    memory.faults.inject({ op: 'getBytes', effect: { kind: 'delay', ms: 250 } });
    memory.faults.inject({ op: 'getBytes', effect: { kind: 'delay', ms: 50 } });
    memory.faults.inject({ op: 'getBytes', effect: { kind: 'error', status: 503 } });
    await expect(memory.getBytes('d/f.txt')).rejects.toThrow(RemoteUnavailableError);
    expect(slept).toEqual([300]);
  });

  it('rejects rules that cannot apply to their operation', () => {
    expect(() => memory.faults.inject({ op: 'get', effect: { kind: 'lostWrite' } })).toThrow(/lostWrite/);
    expect(() => memory.faults.inject({ op: ['put'], effect: { kind: 'truncate' } })).toThrow(/truncate/);
    expect(() => memory.faults.inject({ op: 'put', times: 0, effect: { kind: 'reset' } })).toThrow(/times/);
  });
});

describe('RetryingRemote over injected faults', () => {
  const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };
  const retrying = () => new RetryingRemote(memory, policy, async (ms) => void slept.push(ms));
  const retryable: FaultEffect[] = [
    { kind: 'error', status: 503 }, { kind: 'error', status: 423 }, { kind: 'error', status: 429 }, { kind: 'reset' }];
  const cases = REMOTE_OPERATIONS.flatMap((op) => retryable.map((effect) => ({ op, effect })))
    // A reset of `get` breaks the stream after the call returned: see the test below.
    .filter(({ op, effect }) => !(op === 'get' && effect.kind === 'reset'));

  it.each(cases)('retries $effect.kind $effect.status on $op until it succeeds', async ({ op, effect }) => {
    memory.faults.inject({ op, times: policy.attempts - 1, effect });
    await CALLS[op](retrying());
    expect(memory.requests[op]).toBe(policy.attempts);
    expect(slept).toEqual([100, 200, 400]);
  });

  it.each(cases)('gives up on $effect.kind $effect.status on $op after `attempts` tries', async ({ op, effect }) => {
    memory.faults.inject({ op, times: policy.attempts, effect });
    await expect(CALLS[op](retrying())).rejects.toThrow(RemoteUnavailableError);
    expect(memory.requests[op]).toBe(policy.attempts);
  });

  it('does not retry a get stream that breaks while it is read', async () => {
    memory.faults.inject({ op: 'get', effect: { kind: 'reset' } });
    const stream = (await retrying().get('d/f.txt'))!;
    await expect(readAll(stream)).rejects.toThrow(RemoteUnavailableError);
    expect(memory.requests.get).toBe(1);
  });

  it.each([
    ['412', { kind: 'precondition' }, PreconditionFailedError],
    ['401', { kind: 'auth', status: 401 }, RemoteAuthError],
    ['403', { kind: 'auth', status: 403 }, RemoteAuthError],
  ] as const)('does not retry %s', async (_, effect, errorType) => {
    memory.faults.inject({ op: 'put', times: Infinity, effect });
    await expect(retrying().put('d/f.txt', Buffer.from('x'))).rejects.toThrow(errorType);
    expect(memory.requests.put).toBe(1);
    expect(slept).toEqual([]);
  });

  it('does not retry a 404 answer', async () => {
    const remote = retrying();
    expect(await remote.getBytes('d/missing')).toBeUndefined();
    expect(await remote.stat('d/missing')).toBeUndefined();
    expect(await remote.delete('d/missing')).toBe(false);
    expect(memory.requestCount).toBe(3);
  });

  it('backs off exponentially up to the cap', async () => {
    const delays: number[] = [];
    const remote = new RetryingRemote(memory, { attempts: 8, baseDelayMs: 100, maxDelayMs: 1_000 },
      async (ms) => void slept.push(ms), (_error, _attempt, delay) => delays.push(delay));
    memory.faults.inject({ op: 'getBytes', times: 7, effect: { kind: 'error', status: 503 } });
    expect(await remote.getBytes('d/f.txt')).toEqual(DATA);
    expect(slept).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(delays).toEqual(slept);
  });

  // Documents a hazard for the lock and commit code: a retried write whose first answer was lost
  // reports what the retry saw, not what happened.
  it('after a lost response, a retried exclusive mkdir answers "exists" and a retried create 412', async () => {
    memory.faults.inject({ op: 'mkdir', effect: { kind: 'lostResponse' } });
    memory.faults.inject({ op: 'put', effect: { kind: 'lostResponse' } });
    const remote = retrying();
    expect(await remote.mkdir('d/lock')).toBe('exists');
    await expect(remote.put('d/owner', Buffer.from('me'), { ifNoneMatch: '*' })).rejects.toThrow(PreconditionFailedError);
    expect(await memory.getBytes('d/owner')).toEqual(Buffer.from('me'));
  });

  it('asks beforeRetry before sending a write again: "done" ends the retries as a success', async () => {
    memory.faults.inject({ op: 'put', effect: { kind: 'lostResponse' } });
    const asked: string[] = [];
    const result = await retrying().put('d/v.txt', Buffer.from('mine'), {
      beforeRetry: async () => {
        asked.push(String(await memory.getBytes('d/v.txt')));
        return 'done';
      },
    });
    expect(result).toEqual({});
    expect(asked).toEqual(['mine']); // the first write took effect; its answer was lost
    expect(memory.requests.put).toBe(1);
  });

  it('an error thrown by beforeRetry ends the retries with that error, nothing written again', async () => {
    memory.faults.inject({ op: 'put', times: 1, effect: { kind: 'error', status: 503 } });
    const remote = retrying();
    const attempt = remote.put('d/f.txt', Buffer.from('late'), {
      beforeRetry: async () => {
        throw new Error('someone else committed meanwhile');
      },
    });
    await expect(attempt).rejects.toThrow('someone else committed meanwhile');
    expect(memory.requests.put).toBe(1);
    expect(await memory.getBytes('d/f.txt')).toEqual(DATA);
  });

  it('"retry" from beforeRetry sends the write again', async () => {
    memory.faults.inject({ op: 'put', times: 2, effect: { kind: 'error', status: 503 } });
    let asked = 0;
    await retrying().put('d/v.txt', Buffer.from('again'), { beforeRetry: async () => (asked++, 'retry') });
    expect(asked).toBe(2);
    expect(await memory.getBytes('d/v.txt')).toEqual(Buffer.from('again'));
  });
});
