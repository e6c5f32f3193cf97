import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import pinoPretty from 'pino-pretty';
import type { Config } from '../config.ts';
import type { Docsync } from '../docsync.ts';
import { formatSize } from '../domain/units.ts';
import { syncOutcomes, type SyncOutcome } from '../sync/sync-outcomes.ts';

/** Paths pino blanks whatever a serializer later decides to print: credentials never reach the log. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-session-id"]',
  // `*.headers` too: plugins log request headers under their own keys (multipart's busboyOptions at trace).
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-session-id"]',
  '*.headers["set-cookie"]',
];

/**
 * Log options: the level, redaction, and the format. `pretty` (pino-pretty, in this thread: no
 * worker to lose lines at exit) is for a person at a terminal; `json`, one object per line, for
 * journald and collectors. `auto` picks pretty when stdout is a terminal. `output`: where lines go
 * instead of stdout (tests).
 */
export function loggerOptions(
  level: string,
  format: Config['logFormat'] = 'json',
  output: { isTTY?: boolean; destination?: NodeJS.WritableStream } = {},
): FastifyServerOptions['logger'] {
  const isTTY = output.isTTY ?? process.stdout.isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && isTTY);
  const stream = pretty
    ? pinoPretty({
        colorize: isTTY,
        translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
        ignore: 'pid,hostname',
        singleLine: true,
        sync: true,
        ...(output.destination && { destination: output.destination }),
      })
    : output.destination;
  return { level, redact: { paths: REDACT, censor: '[redacted]' }, ...(stream && { stream }) };
}

/**
 * Request lines at `debug`, one per request (Fastify's own are two per request at `info`: far too
 * loud for a server a page polls). A request that errored keeps its `error` line.
 */
export class DebugRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply);
    request.log.debug(
      { req: { method: request.method, url: request.url }, res: { statusCode: reply.statusCode }, responseTime: Math.round(reply.elapsedTime) },
      'request completed',
    );
  }
}

/** One line per sync at `info` (a skipped quick check at `debug`): what moved, how long, and how it ended. */
export function logSyncs(docsync: Docsync, log: FastifyBaseLogger): () => void {
  return docsync.sync.subscribe(syncOutcomes(docsync.clock, (outcome) => logSync(log, outcome)));
}

function logSync(log: FastifyBaseLogger, outcome: SyncOutcome): void {
  const { result, summary, error, durationMs } = outcome;
  const fields = { sync: result, duration_ms: durationMs, lock_wait_ms: outcome.lockWaitMs };
  if (error) {
    log.warn({ ...fields, code: error.code }, `sync failed after ${durationMs} ms: ${error.message}`);
    return;
  }
  if (!summary) return;
  if (result === 'skipped') {
    log.debug(fields, `sync skipped: ${summary.message}`);
    return;
  }
  const counts = {
    pushed: summary.uploaded,
    pulled: summary.downloaded,
    metadata: summary.metadata_synced,
    deleted_local: summary.deleted_local,
    deleted_remote: summary.deleted_remote,
    conflicts: summary.conflicts,
    errors: summary.errors,
    bytes_up: summary.bytes_uploaded,
    bytes_down: summary.bytes_downloaded,
    version: summary.new_version,
  };
  const text =
    `sync ${result}: ${summary.uploaded} pushed, ${summary.downloaded} pulled, ${summary.metadata_synced} metadata-only, ` +
    `${summary.deleted_local + summary.deleted_remote} deleted, ${summary.conflicts} conflict(s), ${summary.errors} error(s), ` +
    `${formatSize(summary.bytes_uploaded)} up, ${formatSize(summary.bytes_downloaded)} down, ${durationMs} ms, version ${summary.new_version ?? '-'}`;
  if (result === 'ok') log.info({ ...fields, ...counts }, text);
  else log.warn({ ...fields, ...counts }, text);
}
