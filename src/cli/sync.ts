import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { RESOLUTIONS } from '../sync/sync-service.ts';
import { withDocsync } from './context.ts';
import { println, type CliIo } from './io.ts';

export function registerSync(program: Command, io: CliIo): void {
  program
    .command('sync')
    .description('sync with the remote now, with a progress bar')
    .option('--force', 'skip the quick check, and apply deletions beyond the mass-delete guard')
    .option('--dry-run', 'show what would happen; change nothing')
    .option('--reinitialize', "publish this instance's files as a new remote repository (after the remote was reset)")
    .option('--json', 'print the summary as JSON')
    .action((opts: { force?: boolean; dryRun?: boolean; reinitialize?: boolean; json?: boolean }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const bar = new cliProgress.SingleBar(
          { format: ' {bar} {percentage}% | {phase} {done}/{total} | {mb} MB', stream: io.stderr as NodeJS.WriteStream, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        let started = false;
        const unsubscribe = docsync.sync.subscribe((event) => {
          if (event.type === 'syncProgress' && !opts.json) {
            const { percent, phase, done, total, bytes } = event.data;
            const payload = { phase, done, total, mb: (bytes / 1e6).toFixed(1) };
            if (!started) bar.start(100, percent, payload);
            else bar.update(percent, payload);
            started = true;
          } else if (event.type === 'syncMessage' || event.type === 'conflict') {
            const text = event.type === 'conflict' ? `conflict (${event.data.conflict_type}): ${event.data.filename}` : event.data.message;
            println(io.stderr, `\n${text}`);
          }
        });
        try {
          const summary = await docsync.sync.sync({
            force: opts.force ?? false,
            dryRun: opts.dryRun ?? false,
            reinitialize: opts.reinitialize ?? false,
          });
          if (started) bar.stop();
          if (opts.json) return println(io.stdout, JSON.stringify(summary, null, 2));
          println(io.stdout, `${summary.message} (version ${summary.new_version ?? '-'}, ${summary.duration_ms} ms)`);
          if (summary.conflicts > 0) println(io.stdout, "Resolve conflicts with 'docsync conflicts' and 'docsync resolve <id> <strategy>'.");
        } finally {
          if (started) bar.stop();
          unsubscribe();
        }
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
