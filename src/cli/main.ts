import { runCli } from './program.ts';

// A reader that stops early (`docsync files ls | head -1`) closes the pipe: stop quietly, as Unix
// tools do, instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}

const code = await runCli(process.argv.slice(2));
// `serve` keeps running: only a finished command sets the exit code.
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
