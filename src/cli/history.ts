import type { Command } from 'commander';
import { withDocsync } from './context.ts';
import { fileLine, formatSize } from './files.ts';
import { println, type CliIo } from './io.ts';

/** `history`, `trash` and `restore` (docs/design.md#history-trash-and-garbage-collection): the same service as the HTTP API. */
export function registerHistory(program: Command, io: CliIo): void {
  program
    .command('history <id>')
    .description("a file's versions inside the history window, newest first (* = the version last synced)")
    .option('--json', 'print JSON')
    .action((id: string, opts: { json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const versions = docsync.history.versions(id);
        if (opts.json) return println(io.stdout, JSON.stringify({ versions }, null, 2));
        if (versions.length === 0) return println(io.stderr, `no versions of ${id} recorded yet (it has not been synced)`);
        const rows = versions.map((v) => [
          `${v.current ? '*' : ' '}${v.version}`,
          v.committed_at,
          v.instance_id,
          v.deleted ? 'deleted' : formatSize(v.size),
          JSON.stringify(v.filename),
          v.labels.join(','),
        ]);
        printTable(io, ['VERSION', 'COMMITTED (UTC)', 'INSTANCE', 'SIZE', 'NAME', 'LABELS'], rows);
      }),
    );

  program
    .command('trash')
    .description('files deleted inside the history window, newest deletion first')
    .option('--limit <n>', 'at most this many', '100')
    .option('--cursor <cursor>', 'the next page, as printed by the previous one')
    .option('--json', 'print JSON')
    .action((opts: { limit: string; cursor?: string; json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive whole number, got '${opts.limit}'`);
        const page = docsync.history.trash({ limit, ...(opts.cursor !== undefined && { cursor: opts.cursor }) });
        if (opts.json) return println(io.stdout, JSON.stringify({ files: page.files, next_cursor: page.nextCursor }, null, 2));
        for (const file of page.files) println(io.stdout, `${fileLine(file)}  deleted_at=${file.updated_at}`);
        println(io.stderr, `${page.files.length} deleted file(s)${page.nextCursor ? `; more with --cursor ${page.nextCursor}` : ''}`);
      }),
    );

  program
    .command('restore <id>')
    .description('bring a deleted file back, or with --to give a file one of its versions (a local change the next sync shares)')
    // Not `--version`: that is the program's own flag, which commander reads anywhere on the line.
    .option('--to <version>', 'the version to restore (see `docsync history <id>`)')
    .action((id: string, opts: { to?: string }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        let restored;
        if (opts.to === undefined) {
          restored = await docsync.history.restoreDeleted(id);
        } else {
          const version = Number(opts.to);
          if (!Number.isSafeInteger(version) || version < 1) throw new Error(`--to must be a positive whole number, got '${opts.to}'`);
          restored = await docsync.history.restoreVersion(id, version);
        }
        println(io.stdout, fileLine(restored));
      }),
    );
}

function printTable(io: CliIo, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [head, ...rows]) println(io.stdout, row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}
