import type { Readable } from 'node:stream';
import { isRetryable } from './errors.ts';
import type { PutBody, PutOptions, PutResult, Remote, RemoteEntry, RemoteStat } from './remote.ts';

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retries what `isRetryable` says may succeed later (423, 429, 5xx, resets, timeouts), with
 * exponential backoff — the one place docsync retries remote calls. Everything else, a 404 answer
 * (`undefined`) included, passes straight through. A stream returned by `get` is not retried once
 * it is being read: the caller verifies its hash and starts over.
 */
export class RetryingRemote implements Remote {
  constructor(
    private readonly inner: Remote,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly sleep: Sleep = realSleep,
    private readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  stat(path: string): Promise<RemoteStat | undefined> {
    return this.retry(() => this.inner.stat(path));
  }
  get(path: string): Promise<Readable | undefined> {
    return this.retry(() => this.inner.get(path));
  }
  getBytes(path: string): Promise<Buffer | undefined> {
    return this.retry(() => this.inner.getBytes(path));
  }
  put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    return this.retry(() => this.inner.put(path, body, options));
  }
  delete(path: string, options?: { ifMatch?: string }): Promise<boolean> {
    return this.retry(() => this.inner.delete(path, options));
  }
  list(path: string): Promise<RemoteEntry[] | undefined> {
    return this.retry(() => this.inner.list(path));
  }
  mkdir(path: string): Promise<'created' | 'exists'> {
    return this.retry(() => this.inner.mkdir(path));
  }
  serverTime(): Promise<number> {
    return this.retry(() => this.inner.serverTime());
  }

  private async retry<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (!isRetryable(error) || attempt >= this.policy.attempts) throw error;
        const delay = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
        this.onRetry?.(error, attempt, delay);
        await this.sleep(delay);
      }
    }
  }
}
