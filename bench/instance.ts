import { loadConfig } from '../src/config.ts';
import { openDocsync, type Docsync } from '../src/docsync.ts';

export const BENCH_PASSWORD = 'bench-admin-password';

/**
 * The configuration every bench instance shares, as environment variables (the spawned server gets
 * the same ones). No remote: what is measured is the local answer, not a remote's latency.
 */
export function benchEnv(dataDir: string): Record<string, string> {
  return {
    DOCSYNC_DATA_DIR: dataDir,
    DOCSYNC_REMOTE: 'none',
    DOCSYNC_ADMIN_PASSWORD: BENCH_PASSWORD,
    DOCSYNC_LOG_LEVEL: 'silent',
  };
}

/** An in-process instance on `dataDir`; only the bench's own variables are read, never the caller's. */
export function openBenchDocsync(dataDir: string): Docsync {
  return openDocsync(loadConfig(benchEnv(dataDir), {}, dataDir));
}
