import { Readable } from 'node:stream';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type DocsyncApp } from '../../src/http/app.ts';
import { SseHub, type SseSink } from '../../src/sse/sse-hub.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { createInstance, TEST_PASSWORD, tempDir, type TestInstance } from '../support/instance.ts';

interface Received {
  type: string;
  id: string;
  data: unknown;
}

/** A docsync app listening on port 0, with helpers to log in and open EventSource clients. */
async function startApp(env: Record<string, string> = {}, keepAliveMs?: number) {
  const t = createInstance({ PORT: '0', ...env });
  await t.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(t.docsync, keepAliveMs ? { sseKeepAliveMs: keepAliveMs } : {});
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const sources: EventSource[] = [];
  const login = async (): Promise<string> => {
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_PASSWORD }),
    });
    return ((await res.json()) as { sessionId: string }).sessionId;
  };
  /** An EventSource for a session that records every event; resolves once `connected` arrived. */
  const subscribe = async (sessionId: string, lastEventId?: number) => {
    const received: Received[] = [];
    const source = new EventSource(`${url}/api/v1/sse/subscribe`, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: { ...(init?.headers as Record<string, string>), 'x-session-id': sessionId, ...(lastEventId !== undefined && { 'last-event-id': String(lastEventId) }) },
        }),
    });
    sources.push(source);
    for (const type of ['connected', 'syncProgress', 'syncMessage', 'syncComplete', 'syncError', 'conflict', 'fileDataChanged', 'missed', 'test']) {
      source.addEventListener(type, (event) => received.push({ type, id: event.lastEventId, data: JSON.parse(event.data) }));
    }
    await waitFor(() => received.some((r) => r.type === 'connected'));
    return { source, received, events: (type: string) => received.filter((r) => r.type === type) };
  };
  return {
    t,
    app,
    url,
    login,
    subscribe,
    close: async () => {
      for (const s of sources) s.close();
      await app.close();
      t.cleanup();
    },
  };
}

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SSE over real HTTP', () => {
  let server: Awaited<ReturnType<typeof startApp>>;
  afterEach(() => server.close());

  it('answers 401 without a session', async () => {
    server = await startApp();
    const res = await fetch(`${server.url}/api/v1/sse/subscribe`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized');
    const forged = await fetch(`${server.url}/api/v1/sse/subscribe`, { headers: { 'x-session-id': 'forged' } });
    expect(forged.status).toBe(401);
  });

  it('delivers events in order, each with an increasing id', async () => {
    server = await startApp();
    const client = await server.subscribe(await server.login());
    for (let i = 0; i < 20; i++) server.app.sse.publish('test', { n: i });
    await waitFor(() => client.events('test').length === 20);
    expect(client.events('test').map((e) => (e.data as { n: number }).n)).toEqual([...Array(20).keys()]);
    const ids = client.events('test').map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(20);
  });

  it('every tab of a session gets every message; other sessions get none of it', async () => {
    server = await startApp();
    const alice = await server.login();
    const bob = await server.login();
    const tab1 = await server.subscribe(alice);
    const tab2 = await server.subscribe(alice);
    const other = await server.subscribe(bob);
    const { sessionKeyOf } = await import('../../src/http/routes/sse.ts');
    server.app.sse.publish('test', { to: 'alice' }, sessionKeyOf(alice, 0));
    server.app.sse.publish('test', { to: 'everyone' });
    await waitFor(() => tab1.events('test').length === 2 && tab2.events('test').length === 2 && other.events('test').length === 1);
    expect(tab1.events('test').map((e) => e.data)).toEqual([{ to: 'alice' }, { to: 'everyone' }]);
    expect(tab2.events('test').map((e) => e.data)).toEqual([{ to: 'alice' }, { to: 'everyone' }]);
    expect(other.events('test').map((e) => e.data)).toEqual([{ to: 'everyone' }]);
  });

  it('a reconnect with Last-Event-ID replays what was missed, for its own session only', async () => {
    server = await startApp();
    const alice = await server.login();
    const bob = await server.login();
    const { sessionKeyOf } = await import('../../src/http/routes/sse.ts');
    const first = await server.subscribe(alice);
    server.app.sse.publish('test', { n: 1 });
    await waitFor(() => first.events('test').length === 1);
    const lastSeen = Number(first.events('test')[0]!.id);
    first.source.close();
    server.app.sse.publish('test', { n: 2 });
    server.app.sse.publish('test', { n: 3, for: 'bob' }, sessionKeyOf(bob, 0));
    server.app.sse.publish('test', { n: 4 }, sessionKeyOf(alice, 0));
    const again = await server.subscribe(alice, lastSeen);
    await waitFor(() => again.events('test').length === 2);
    expect(again.events('test').map((e) => e.data)).toEqual([{ n: 2 }, { n: 4 }]);
  });

  it('sends keep-alive comments at the configured interval', async () => {
    server = await startApp({}, 50);
    const sessionId = await server.login();
    const res = await fetch(`${server.url}/api/v1/sse/subscribe`, { headers: { 'x-session-id': sessionId } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 3000;
    while (!text.includes(': keep-alive') && Date.now() < deadline) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toMatch(/event: connected\ndata: \{"client_id":"c\d+"/);
    expect(text).toContain(': keep-alive\n\n');
  });

  it('progress goes to the session that started the sync; completion and file changes to everyone', async () => {
    const remote = tempDir();
    server = await startApp({ DOCSYNC_REMOTE: `file://${remote.dir}` });
    try {
      const starter = await server.login();
      const bystander = await server.login();
      const mine = await server.subscribe(starter);
      const theirs = await server.subscribe(bystander);
      await server.t.docsync.files.create(Readable.from([Buffer.from('x')]), { filename: 'x.txt' });
      const res = await fetch(`${server.url}/api/v1/sync`, { method: 'POST', headers: { 'x-session-id': starter } });
      expect(res.status).toBe(200);
      await waitFor(() => mine.events('syncComplete').length === 1 && theirs.events('syncComplete').length === 1);
      const phases = mine.events('syncProgress').map((e) => (e.data as { phase: string; percent: number }));
      expect(phases.at(-1)).toMatchObject({ phase: 'done', percent: 100 });
      expect(phases.map((p) => p.percent)).toEqual([...phases.map((p) => p.percent)].sort((a, b) => a - b));
      expect(theirs.events('syncProgress')).toEqual([]);
      expect(theirs.events('syncComplete')[0]!.data).toMatchObject({ uploaded: 1, new_version: 1 });
      expect(mine.events('fileDataChanged')).toEqual([]);

      // Another instance adds a file; this server's sync brings it in: every session hears of it.
      const other = createInstance({ DOCSYNC_REMOTE: `file://${remote.dir}` }, 77);
      await other.docsync.files.create(Readable.from([Buffer.from('y')]), { filename: 'y.txt' });
      await other.docsync.sync.sync();
      other.cleanup();
      await fetch(`${server.url}/api/v1/sync`, { method: 'POST', headers: { 'x-session-id': starter } });
      await waitFor(() => mine.events('fileDataChanged').length === 1 && theirs.events('fileDataChanged').length === 1);
      expect(theirs.events('fileDataChanged')[0]!.data).toEqual({ reason: 'sync', new_version: 2 });
    } finally {
      remote.remove();
    }
  });
});

describe('SseHub', () => {
  /** A sink whose socket is full until `drain()` is called. */
  class SlowSink implements SseSink {
    written: string[] = [];
    full = false;
    private onDrain: (() => void) | undefined;
    write(chunk: string): boolean {
      this.written.push(chunk);
      return !this.full;
    }
    end(): void {}
    once(_event: 'drain', listener: () => void): void {
      this.onDrain = listener;
    }
    drain(): void {
      this.full = false;
      this.onDrain?.();
    }
  }
  const hubWith = (clock = new ManualClock()) =>
    ({ clock, hub: new SseHub({ clock, keepAliveMs: 30_000, goneTtlMs: 5 * 60_000, bufferSize: 5, queueLimit: 3 }) });

  it('a slow client is told it missed events, and never holds up the others', () => {
    const { hub } = hubWith();
    const slow = new SlowSink();
    const fast = new SlowSink();
    hub.connect(slow, 's1');
    hub.connect(fast, 's2');
    slow.full = true;
    hub.publish('test', { n: 0 });
    for (let i = 1; i <= 10; i++) hub.publish('test', { n: i });
    expect(fast.written.filter((w) => w.includes('event: test'))).toHaveLength(11);
    const before = slow.written.length;
    slow.drain();
    const after = slow.written.slice(before);
    expect(after[0]).toMatch(/^event: missed\ndata: \{"reason":"overflow"\}/);
    hub.publish('test', { n: 11 });
    expect(slow.written.at(-1)).toContain('"n":11');
  });

  it('drops the records of clients gone for 5 minutes, keeps live ones and recent ones', () => {
    const { hub, clock } = hubWith();
    const gone = hub.connect(new SlowSink(), 's1');
    hub.connect(new SlowSink(), 's2');
    hub.disconnect(gone);
    clock.advance(4 * 60_000);
    hub.tick();
    expect(hub.clientCount).toBe(2);
    // A reconnect with its client_id within the window re-attaches to the same record.
    const back = hub.connect(new SlowSink(), 's1', undefined, gone.id);
    expect(back.id).toBe(gone.id);
    hub.disconnect(back);
    clock.advance(5 * 60_000);
    hub.tick();
    expect(hub.clientCount).toBe(1);
    expect(hub.connectedCount).toBe(1);
  });

  it('says so when a reconnect asks for events older than the replay buffer', () => {
    const { hub } = hubWith();
    for (let i = 0; i < 10; i++) hub.publish('test', { n: i });
    const sink = new SlowSink();
    hub.connect(sink, 's1', 1);
    expect(sink.written[1]).toMatch(/^event: missed\ndata: \{"reason":"buffer","since":1\}/);
    expect(sink.written.filter((w) => w.includes('event: test'))).toHaveLength(5);
  });

  it("a client cannot take over another session's record with its client_id", () => {
    const { hub } = hubWith();
    const alice = hub.connect(new SlowSink(), 'alice');
    hub.disconnect(alice);
    const mallory = hub.connect(new SlowSink(), 'mallory', undefined, alice.id);
    expect(mallory.id).not.toBe(alice.id);
    expect(mallory.sessionKey).toBe('mallory');
  });
});
