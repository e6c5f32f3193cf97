import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
// `serve` keeps running: only a finished command sets the exit code.
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
