import type { Readable } from 'node:stream';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from './remote.ts';

/**
 * Tells `onError` of every failed request and passes everything through unchanged. Placed under
 * `RetryingRemote`, it sees each attempt: a flaky server shows in the metrics even when the retries
 * hide it from the sync. (Errors of a body stream after `get` answered are the reader's to report.)
 */
export class ObservedRemote implements Remote {
  constructor(
    private readonly inner: Remote,
    private readonly onError: (error: unknown) => void,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  get putAnswerConfirms(): boolean | undefined {
    return this.inner.putAnswerConfirms;
  }

  stat(path: string): Promise<RemoteStat | undefined> {
    return this.observe(this.inner.stat(path));
  }
  get(path: string, options?: ReadOptions): Promise<Readable | undefined> {
    return this.observe(this.inner.get(path, options));
  }
  getBytes(path: string, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.observe(this.inner.getBytes(path, options));
  }
  put(path: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    return this.observe(this.inner.put(path, body, options));
  }
  delete(path: string, options?: { ifMatch?: string }): Promise<boolean> {
    return this.observe(this.inner.delete(path, options));
  }
  list(path: string): Promise<RemoteEntry[] | undefined> {
    return this.observe(this.inner.list(path));
  }
  mkdir(path: string): Promise<'created' | 'exists'> {
    return this.observe(this.inner.mkdir(path));
  }
  serverTime(): Promise<number> {
    return this.observe(this.inner.serverTime());
  }

  private async observe<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      this.onError(error);
      throw error;
    }
  }
}
