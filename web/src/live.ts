import type { ServerEvents } from './api-types.ts';

export type LiveState = 'connecting' | 'live' | 'offline';

type Handlers = { [K in keyof ServerEvents]?: (data: ServerEvents[K]) => void };

export interface LiveOptions {
  url: string;
  handlers: Handlers;
  /** Events may have been lost (a new connection, or the server says `missed`): refetch everything. */
  resync(): void;
  state(state: LiveState): void;
  /** A connection the server refused (401 after logout elsewhere, …): may end the session. */
  refused(): void;
}

const RETRY_MS = [1000, 3000, 10_000, 30_000];

/**
 * The SSE stream (docs/design.md#events-sse; cookie auth, so same origin). The browser reconnects by itself after a
 * dropped connection, sending Last-Event-ID so the server replays what was missed; when the server
 * refuses a connection the EventSource closes for good, and a new one (without that id) is opened
 * here after a pause, followed by a full refetch.
 */
export class LiveEvents {
  private source: EventSource | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempts = 0;
  private connectedBefore = false;
  private stopped = false;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = undefined;
  }

  private open(): void {
    const { options } = this;
    options.state('connecting');
    const source = new EventSource(options.url, { withCredentials: true });
    this.source = source;
    let opened = false;
    source.addEventListener('open', () => {
      this.attempts = 0;
      options.state('live');
      // The browser's own reconnects send Last-Event-ID and get a replay; a new EventSource has no
      // id, so whatever happened while none was open is unknown.
      if (!opened && this.connectedBefore) options.resync();
      opened = true;
      this.connectedBefore = true;
    });
    source.addEventListener('error', () => {
      if (this.stopped) return;
      if (source.readyState === EventSource.CLOSED) {
        options.state('offline');
        options.refused();
        const delay = RETRY_MS[Math.min(this.attempts++, RETRY_MS.length - 1)]!;
        this.timer = setTimeout(() => {
          if (!this.stopped) this.open();
        }, delay);
      } else {
        options.state('connecting');
      }
    });
    for (const name of Object.keys(EVENT_NAMES) as Array<keyof ServerEvents>) {
      source.addEventListener(name, (event) => this.dispatch(name, (event as MessageEvent<string>).data));
    }
  }

  private dispatch<K extends keyof ServerEvents>(name: K, raw: string): void {
    let data: ServerEvents[K];
    try {
      data = (raw ? JSON.parse(raw) : null) as ServerEvents[K];
    } catch {
      data = raw as ServerEvents[K];
    }
    if (name === 'missed') this.options.resync();
    this.options.handlers[name]?.(data);
  }
}

/** Every event name the server sends (a record so a new one in ServerEvents fails to compile here). */
const EVENT_NAMES: Record<keyof ServerEvents, true> = {
  connected: true,
  syncProgress: true,
  syncMessage: true,
  syncComplete: true,
  syncError: true,
  conflict: true,
  fileDataChanged: true,
  syncStatus: true,
  missed: true,
};
