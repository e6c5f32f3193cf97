import type { Clock } from '../domain/clock.ts';

/** What the hub needs of a connection: Node's `ServerResponse` fits. */
export interface SseSink {
  write(chunk: string): boolean;
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
}

export interface SseHubOptions {
  clock: Clock;
  /** Comment line every so often, so proxies keep idle streams open (30 s by default, docs/design.md#events-sse). */
  keepAliveMs: number;
  /** A disconnected client's record is kept this long for a reconnect with its `client_id`. */
  goneTtlMs: number;
  /** Events kept for replay after a reconnect (`Last-Event-ID`). */
  bufferSize: number;
  /** Frames waiting for a slow client; beyond this it is told it missed events. */
  queueLimit: number;
}

interface BufferedEvent {
  id: number;
  frame: string;
  /** Session key the event is for; undefined: everyone. */
  audience: string | undefined;
}

/** One connection (a browser tab): its own queue, its session's events only. */
export interface SseClient {
  readonly id: string;
  readonly sessionKey: string;
  connected: boolean;
  goneSince: number | undefined;
  sink: SseSink | undefined;
  /** Frames waiting while the socket is full. */
  queue: string[];
  blocked: boolean;
  missed: boolean;
}

/**
 * Server-Sent Events fan-out (docs/design.md#events-sse). Every connection has its own queue, so every tab of a
 * session gets every message meant for that session, and sessions never see each other's.
 * Every event carries an id; a reconnect with `Last-Event-ID` replays what it missed from a bounded
 * buffer (or is told, with `missed`, that the buffer no longer reaches back that far). A slow client
 * never blocks the others: its queue is bounded, and on overflow it is dropped and the client told.
 */
export class SseHub {
  private nextId = 1;
  private readonly buffer: BufferedEvent[] = [];
  private readonly clients = new Map<string, SseClient>();
  private timer: NodeJS.Timeout | undefined;
  private clientCounter = 0;

  constructor(private readonly options: SseHubOptions) {}

  /** Starts the keep-alive and cleanup timer (real time; tests call `tick` instead). */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.keepAliveMs);
    this.timer.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  get connectedCount(): number {
    return [...this.clients.values()].filter((c) => c.connected).length;
  }

  /** The id of the newest event: where a new connection starts. */
  get lastEventId(): number {
    return this.nextId - 1;
  }

  /**
   * Attaches a connection. `lastEventId` (from a reconnect) replays newer events for its session;
   * `clientId` re-attaches to the record of a recently disconnected client.
   */
  connect(sink: SseSink, sessionKey: string, lastEventId?: number, clientId?: string): SseClient {
    const existing = clientId ? this.clients.get(clientId) : undefined;
    const client: SseClient =
      existing && existing.sessionKey === sessionKey && !existing.connected
        ? existing
        : { id: `c${++this.clientCounter}`, sessionKey, connected: true, goneSince: undefined, sink, queue: [], blocked: false, missed: false };
    Object.assign(client, { connected: true, goneSince: undefined, sink, queue: [], blocked: false, missed: false });
    this.clients.set(client.id, client);
    sink.write(`retry: 2000\n\n`);
    if (lastEventId !== undefined && Number.isFinite(lastEventId) && lastEventId < this.lastEventId) {
      const oldest = this.buffer[0]?.id ?? this.nextId;
      if (lastEventId + 1 < oldest) this.send(client, frame(undefined, 'missed', { reason: 'buffer', since: lastEventId }));
      for (const event of this.buffer) {
        if (event.id > lastEventId && visible(event, client)) this.send(client, event.frame);
      }
    }
    this.send(client, frame(this.lastEventId, 'connected', { client_id: client.id, last_event_id: this.lastEventId }));
    return client;
  }

  disconnect(client: SseClient): void {
    if (!client.connected) return;
    client.connected = false;
    client.goneSince = this.options.clock.now();
    client.sink = undefined;
    client.queue = [];
  }

  /** Sends an event to one session (`audience`) or to everyone. Returns its id. */
  publish(event: string, data: unknown, audience?: string): number {
    const id = this.nextId++;
    const buffered: BufferedEvent = { id, frame: frame(id, event, data), audience };
    this.buffer.push(buffered);
    if (this.buffer.length > this.options.bufferSize) this.buffer.shift();
    for (const client of this.clients.values()) {
      if (client.connected && visible(buffered, client)) this.send(client, buffered.frame);
    }
    return id;
  }

  /** Keep-alive for live clients; drops clients gone for longer than the TTL. */
  tick(): void {
    const now = this.options.clock.now();
    for (const client of [...this.clients.values()]) {
      if (client.connected) this.send(client, ': keep-alive\n\n');
      else if (client.goneSince !== undefined && now - client.goneSince >= this.options.goneTtlMs) this.clients.delete(client.id);
    }
  }

  /** Ends every stream (shutdown). */
  closeAll(): void {
    clearInterval(this.timer);
    for (const client of this.clients.values()) {
      client.sink?.end();
      this.disconnect(client);
    }
  }

  private send(client: SseClient, data: string): void {
    if (!client.sink) return;
    if (client.blocked) {
      if (client.missed) return;
      client.queue.push(data);
      if (client.queue.length > this.options.queueLimit) {
        // Too slow to keep up: drop what waits, and say so once it can listen again.
        client.queue = [];
        client.missed = true;
      }
      return;
    }
    if (!client.sink.write(data)) {
      client.blocked = true;
      client.sink.once('drain', () => this.drain(client));
    }
  }

  private drain(client: SseClient): void {
    client.blocked = false;
    if (!client.connected) return;
    const waiting = client.queue;
    client.queue = [];
    if (client.missed) {
      client.missed = false;
      this.send(client, frame(undefined, 'missed', { reason: 'overflow' }));
    }
    for (const data of waiting) this.send(client, data);
  }
}

function visible(event: BufferedEvent, client: SseClient): boolean {
  return event.audience === undefined || event.audience === client.sessionKey;
}

/** One SSE frame. JSON never contains a raw newline, so `data:` is a single line. */
function frame(id: number | undefined, event: string, data: unknown): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
