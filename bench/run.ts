/**
 * `npm run bench [-- --only status,insert,transfer,webdav,sync,sync-transfer,push,sse,login,format] [--sizes 10000,100000,1000000] [--insert-rows 100000]
 *  [--transfer-mb 1024] [--iterations 2000] [--webdav-concurrency 8] [--webdav-runs 3] [--sync-sizes 10000,100000]
 *  [--push-servers apache,nginx,rclone,lighttpd,sabre] [--sync-files 2000] [--sync-runs 5] [--sse-clients 1000] [--sse-files 200] [--sse-runs 3]
 *  [--format-sizes 3000,100000,1000000] [--format-reference <format-1 checkout>] [--format-commits 100]`: the performance targets of the issues,
 * one or more tables per section. Defaults are the full targets. Progress goes to stderr, tables to stdout.
 */
import { parseArgs } from 'node:util';
import { installCleanupOnExit } from './cleanup.ts';
import { benchFormat } from './format.ts';
import { benchInsert } from './insert.ts';
import { benchLocalStatus } from './local-status.ts';
import { benchLoginFlood } from './login-flood.ts';
import { benchSse } from './sse.ts';
import { benchPushRequests } from './push-requests.ts';
import type { WebDavServerKind } from '../test/support/webdav-servers.ts';
import { benchSync } from './sync.ts';
import { benchSyncTransfer } from './sync-transfer.ts';
import { renderTable, type Table } from './table.ts';
import { benchTransfer } from './transfer.ts';
import { benchWebDav } from './webdav-transfer.ts';

const SECTIONS = ['status', 'insert', 'transfer', 'webdav', 'sync', 'sync-transfer', 'push', 'sse', 'login', 'format'] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `usage: npm run bench -- [options]
  --only <list>         sections, comma-separated: ${SECTIONS.join(', ')} (default: all)
  --sizes <list>        row counts for status (default: 10000,100000,1000000)
  --iterations <n>      timed calls per status measurement (default: 2000)
  --insert-rows <n>     rows for the bulk insert (default: 100000)
  --transfer-mb <n>     upload/download size in MiB (default: 1024)
  --webdav-concurrency <n>  requests in flight for the webdav section (default: 8)
  --webdav-runs <n>     timed runs per webdav measurement, median shown (default: 3)
  --sync-sizes <list>   file counts of the no-change and 10-file-change syncs (default: 10000,100000)
  --sync-files <n>      files of the initial sync, 1 KB-1 MB each (default: 2000)
  --sync-runs <n>       timed runs of the initial sync and of the 10-file change, median shown (default: 5)
  --sync-transfer-mb <list>  file sizes in MiB of the sync-transfer section (default: 256,1024)
  --sync-transfer-runs <n>   timed runs per size and remote of the sync-transfer section, median shown (default: 3)
  --sync-nochange <n>   timed no-change syncs per size (default: 100, so that p99 is not just the maximum)
  --push-servers <list>  WebDAV servers of the push section: apache, nginx, rclone, lighttpd, sabre
                        (default: apache; the targets are judged on Apache only)
  --sse-clients <n>     connected SSE clients (default: 1000)
  --sse-files <n>       files each SSE run's sync uploads, one progress event each (default: 200)
  --sse-runs <n>        progress streams measured by the SSE section, median shown (default: 3)
  --login-attackers <n> concurrent wrong-password logins of the login section (default: 64)
  --format-sizes <list> file counts of the format section (default: 3000,100000,1000000)
  --format-reference <dir>  a format-1 checkout (e.g. a worktree at 050e2af, node_modules linked) measured beside
                        this one; without it the format section measures format 2 alone (and says so)
  --format-reference-max-files <n>  the reference runs only at sizes up to this (default: 100000; its 1M first
                        pull takes minutes and GBs)
  --format-commits <n>  one-file commits (each followed by a pull) of the metadata-bytes comparison (default: 100)
  --format-commits-at <n>  the file count they run at, one of --format-sizes (default: 100000)
  --format-push-batch <n>  rows per push of A's first push (default: 250000; a format-2 journal is one JSON
                        string, ~450 B a row, and V8 strings stop at 512 MB)`;

interface Options {
  sections: Section[];
  sizes: number[];
  iterations: number;
  insertRows: number;
  transferMib: number;
  webdavConcurrency: number;
  webdavRuns: number;
  syncSizes: number[];
  syncFiles: number;
  syncRuns: number;
  syncNoChange: number;
  syncTransferMib: number[];
  syncTransferRuns: number;
  pushServers: WebDavServerKind[];
  sseClients: number;
  sseFiles: number;
  sseRuns: number;
  loginAttackers: number;
  formatSizes: number[];
  formatReference: string | undefined;
  formatReferenceMaxFiles: number;
  formatCommits: number;
  formatCommitsAt: number;
  formatPushBatch: number;
}

class UsageError extends Error {}

function positiveInt(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number, got '${text}'`);
  return n;
}

const PUSH_SERVERS: readonly WebDavServerKind[] = ['apache', 'nginx', 'rclone', 'lighttpd', 'sabre'];

function pushServers(text: string): WebDavServerKind[] {
  const kinds = text.split(',').map((s) => s.trim());
  const unknown = kinds.filter((k) => !(PUSH_SERVERS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new UsageError(`--push-servers: unknown server(s) ${unknown.join(', ')}; choose from ${PUSH_SERVERS.join(', ')}`);
  return kinds as WebDavServerKind[];
}

/** One server at a time: the push counts must not share the machine with another server's run. */
async function sequentially<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await run(item));
  return results;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      sizes: { type: 'string' },
      iterations: { type: 'string' },
      'insert-rows': { type: 'string' },
      'transfer-mb': { type: 'string' },
      'webdav-concurrency': { type: 'string' },
      'webdav-runs': { type: 'string' },
      'sync-sizes': { type: 'string' },
      'sync-files': { type: 'string' },
      'sync-runs': { type: 'string' },
      'sync-nochange': { type: 'string' },
      'sync-transfer-mb': { type: 'string' },
      'sync-transfer-runs': { type: 'string' },
      'push-servers': { type: 'string' },
      'sse-clients': { type: 'string' },
      'sse-files': { type: 'string' },
      'sse-runs': { type: 'string' },
      'login-attackers': { type: 'string' },
      'format-sizes': { type: 'string' },
      'format-reference': { type: 'string' },
      'format-reference-max-files': { type: 'string' },
      'format-commits': { type: 'string' },
      'format-commits-at': { type: 'string' },
      'format-push-batch': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const sections = (values.only ?? SECTIONS.join(',')).split(',').map((s) => s.trim());
  const unknown = sections.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UsageError(`unknown section(s) ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  return {
    sections: sections as Section[],
    sizes: (values.sizes ?? '10000,100000,1000000').split(',').map((s) => positiveInt('sizes', s.trim())),
    iterations: positiveInt('iterations', values.iterations ?? '2000'),
    insertRows: positiveInt('insert-rows', values['insert-rows'] ?? '100000'),
    transferMib: positiveInt('transfer-mb', values['transfer-mb'] ?? '1024'),
    webdavConcurrency: positiveInt('webdav-concurrency', values['webdav-concurrency'] ?? '8'),
    webdavRuns: positiveInt('webdav-runs', values['webdav-runs'] ?? '3'),
    syncSizes: (values['sync-sizes'] ?? '10000,100000').split(',').map((s) => positiveInt('sync-sizes', s.trim())),
    syncFiles: positiveInt('sync-files', values['sync-files'] ?? '2000'),
    syncRuns: positiveInt('sync-runs', values['sync-runs'] ?? '5'),
    syncNoChange: positiveInt('sync-nochange', values['sync-nochange'] ?? '100'),
    syncTransferMib: (values['sync-transfer-mb'] ?? '256,1024').split(',').map((s) => positiveInt('sync-transfer-mb', s.trim())),
    syncTransferRuns: positiveInt('sync-transfer-runs', values['sync-transfer-runs'] ?? '3'),
    pushServers: pushServers(values['push-servers'] ?? 'apache'),
    sseClients: positiveInt('sse-clients', values['sse-clients'] ?? '1000'),
    sseFiles: positiveInt('sse-files', values['sse-files'] ?? '200'),
    sseRuns: positiveInt('sse-runs', values['sse-runs'] ?? '3'),
    loginAttackers: positiveInt('login-attackers', values['login-attackers'] ?? '64'),
    formatSizes: (values['format-sizes'] ?? '3000,100000,1000000').split(',').map((s) => positiveInt('format-sizes', s.trim())),
    formatReference: values['format-reference'],
    formatReferenceMaxFiles: positiveInt('format-reference-max-files', values['format-reference-max-files'] ?? '100000'),
    formatCommits: positiveInt('format-commits', values['format-commits'] ?? '100'),
    formatCommitsAt: positiveInt('format-commits-at', values['format-commits-at'] ?? '100000'),
    formatPushBatch: positiveInt('format-push-batch', values['format-push-batch'] ?? '250000'),
  };
}

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function runSection(section: Section, options: Options): Promise<Table | Table[]> {
  switch (section) {
    case 'status':
      return benchLocalStatus({ sizes: options.sizes, iterations: options.iterations }, log);
    case 'insert':
      return benchInsert({ rows: options.insertRows }, log);
    case 'transfer':
      return benchTransfer({ mib: options.transferMib }, log);
    case 'webdav':
      return benchWebDav({ concurrency: options.webdavConcurrency, runs: options.webdavRuns }, log);
    case 'sync':
      return benchSync(
        { sizes: options.syncSizes, initialFiles: options.syncFiles, runs: options.syncRuns, noChangeRuns: options.syncNoChange },
        log,
      );
    case 'sync-transfer':
      return benchSyncTransfer({ sizesMib: options.syncTransferMib, runs: options.syncTransferRuns }, log);
    case 'push':
      return sequentially(options.pushServers, (kind) => benchPushRequests(log, kind));
    case 'sse':
      return benchSse({ clients: options.sseClients, files: options.sseFiles, runs: options.sseRuns }, log);
    case 'login':
      return benchLoginFlood({ attackers: options.loginAttackers, seconds: 5, mb: 4 }, log);
    case 'format':
      return benchFormat(
        {
          sizes: options.formatSizes,
          reference: options.formatReference,
          referenceMaxFiles: options.formatReferenceMaxFiles,
          commits: options.formatCommits,
          commitsAt: options.formatCommitsAt,
          pushBatch: options.formatPushBatch,
        },
        log,
      );
  }
}

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  installCleanupOnExit();
  const started = performance.now();
  const missed: string[] = [];
  for (const section of options.sections) {
    const result = await runSection(section, options);
    for (const table of Array.isArray(result) ? result : [result]) {
      process.stdout.write(`\n${renderTable(table)}\n`);
      for (const row of table.rows) if (row.ok === false) missed.push(`${table.title}: ${row.cells[0]}`);
    }
  }
  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const verdict = missed.length === 0 ? 'All targets met.' : `Targets missed:\n  ${missed.join('\n  ')}`;
  process.stdout.write(`\n${verdict}\nBench took ${minutes} min.\n`);
  return 0;
}

process.exitCode = await main();
