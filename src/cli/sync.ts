import type { Command } from 'commander';
import type { PlannedChange, SyncSummary } from '../sync/events.ts';
import { RESOLUTIONS } from '../sync/sync-service.ts';
import { withDocsync } from './context.ts';
import { CommandExit, EXIT } from './exit-codes.ts';
import { println, type CliIo } from './io.ts';
import { formatSize } from '../domain/units.ts';
import { SyncProgressView, type ProgressStream } from './progress.ts';

export function registerSync(program: Command, io: CliIo): void {
  program
    .command('sync')
    .description('sync with the remote now, with a progress bar (plain lines when stderr is not a terminal)')
    .option('--force', 'skip the quick check, and apply deletions beyond the mass-delete guard')
    .option('--dry-run', 'list what a sync would do, file by file; change nothing')
    .option('--reinitialize', "publish this instance's files as a new remote repository (after the remote was reset)")
    .option('--json', 'print the summary (and a dry run\'s plan) as JSON, without progress')
    .action((opts: { force?: boolean; dryRun?: boolean; reinitialize?: boolean; json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const stderr = io.stderr as unknown as ProgressStream;
        const view = new SyncProgressView(stderr, { mode: stderr.isTTY ? 'bar' : 'lines', now: () => docsync.clock.now() });
        const unsubscribe = docsync.sync.subscribe((event) => {
          if (event.type === 'syncProgress' && !opts.json) view.update(event.data);
          else if (event.type === 'syncMessage') view.note(event.data.message);
          else if (event.type === 'conflict') view.note(`conflict (${event.data.conflict_type}): ${event.data.filename}`);
        });
        let summary: SyncSummary;
        try {
          summary = await docsync.sync.sync({
            force: opts.force ?? false,
            dryRun: opts.dryRun ?? false,
            reinitialize: opts.reinitialize ?? false,
          });
        } finally {
          view.finish();
          unsubscribe();
        }
        if (opts.json) println(io.stdout, JSON.stringify(summary, null, 2));
        else {
          // Grouped by action, then by name: easier to read than the planner's order (by id).
          const plan = [...(summary.plan ?? [])].sort((x, y) => x.action.localeCompare(y.action) || x.filename.localeCompare(y.filename));
          for (const change of plan) println(io.stdout, planLine(change));
          println(io.stdout, `${summary.message} (version ${summary.new_version ?? '-'}, ${summary.duration_ms} ms)`);
          if (summary.conflicts > 0) println(io.stdout, "Resolve conflicts with 'docsync conflicts' and 'docsync resolve <id> <strategy>'.");
        }
        // Failed transfers first: they are what the next sync must finish; then conflicts to resolve.
        if (summary.errors > 0) throw new CommandExit(EXIT.error);
        if (summary.conflicts > 0) throw new CommandExit(EXIT.conflicts);
      }),
    );

  program
    .command('conflicts')
    .description('list files in conflict')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const conflicts = docsync.sync.conflicts();
        if (opts.json) return println(io.stdout, JSON.stringify({ conflicts, total: conflicts.length }, null, 2));
        for (const c of conflicts) {
          const local = c.local_deleted ? 'deleted here' : `here ${c.local_hash.slice(0, 12)} (${c.local_modified_at})`;
          const remote = c.remote_deleted
            ? 'deleted there'
            : c.remote_hash === null
              ? 'the remote side is unreadable (resolve with local_wins)'
              : `there ${c.remote_hash.slice(0, 12)} (${c.remote_modified_at})`;
          println(io.stdout, `${c.stable_id}  ${c.conflict_type.padEnd(14)}  ${JSON.stringify(c.filename)}  ${local}; ${remote}`);
        }
        println(io.stderr, `${conflicts.length} conflict(s)`);
      }),
    );

  program
    .command('resolve <id> <strategy>')
    .description(`resolve a conflict: ${RESOLUTIONS.join(' | ')}; the next sync shares the result`)
    .action((id: string, strategy: string, _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const result = await docsync.sync.resolveConflict(id, strategy);
        println(io.stdout, result.message);
      }),
    );
}

/** `upload          paper.pdf (1.2 MB)`, as rclone's dry run lists it: the action, then the name. */
function planLine(change: PlannedChange): string {
  const action = change.action === 'conflict' ? `conflict (${change.conflict_type})` : change.action;
  const size = change.bytes > 0 ? ` (${formatSize(change.bytes)})` : '';
  return `${action.padEnd(24)}  ${JSON.stringify(change.filename)}${size}  ${change.stable_id}`;
}
