import type { Readable } from 'node:stream';
import { isRetryable } from './errors.ts';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from './remote.ts';

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Spread each delay over [50%, 100%] of its value, so instances that failed together (two
   * clients meeting Nextcloud's 423) do not retry in lockstep.
   */
  jitter?: boolean;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retries what `isRetryable` says may succeed later (423, 429, 5xx, resets, timeouts), with
 * exponential backoff — the one place docsync retries remote calls. Everything else, a 404 answer
 * (`undefined`) included, passes straight through. A stream returned by `get` is not retried once
 * it is being read: the caller verifies its hash and starts over.
 *
 * A retried write whose first answer was lost sees its own effect: `mkdir` says `'exists'`, a
 * conditional create gets 412, `delete` says `false`. Callers that depend on those answers (the lock)
 * read the state back instead of trusting them.
 */
export class RetryingRemote implements Remote {
  constructor(
    private readonly inner: Remote,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly sleep: Sleep = realSleep,
    private readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
    private readonly random: () => number = Math.random,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  get putAnswerConfirms(): boolean | undefined {
    return this.inner.putAnswerConfirms;
  }

  stat(path: string): Promise<RemoteStat | undefined> {
    return this.retry(() => this.inner.stat(path));
  }
  get(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    return this.retry(() => this.inner.get(path, options));
  }
  getBytes(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.retry(() => this.inner.getBytes(path, options));
  }
  put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    const beforeRetry = options?.beforeRetry;
    let attempts = 0;
    return this.retry(async () => {
      if (attempts++ > 0 && beforeRetry && (await beforeRetry()) === 'done') return {};
      return this.inner.put(path, body, options);
    });
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
        const backoff = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
        const delay = this.policy.jitter ? Math.round(backoff * (0.5 + this.random() / 2)) : backoff;
        this.onRetry?.(error, attempt, delay);
        await this.sleep(delay);
      }
    }
  }
}
