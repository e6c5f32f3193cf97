import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/program.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with the given environment and piped `stdin`; returns the exit code and both outputs. */
export async function runCliCaptured(
  args: string[],
  io: { env: Record<string, string>; cwd: string; stdin?: string; stderrTerminal?: { columns: number } },
): Promise<CliRun> {
  const out = new PassThrough();
  // `stderrTerminal`: stderr says it is a terminal, as a person's would (the progress bar draws in place).
  const err = Object.assign(new PassThrough(), io.stderrTerminal ? { isTTY: true, columns: io.stderrTerminal.columns } : {});
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c: Buffer) => chunks.out.push(c));
  err.on('data', (c: Buffer) => chunks.err.push(c));
  const cliIo: CliIo = {
    stdout: out,
    stderr: err,
    stdin: Readable.from(io.stdin === undefined ? [] : [Buffer.from(io.stdin)]),
    env: io.env,
    cwd: io.cwd,
  };
  const code = await runCli(args, cliIo);
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}
