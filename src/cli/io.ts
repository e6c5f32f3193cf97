import type { Readable, Writable } from 'node:stream';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});

export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}

/** Reads one line: from a pipe as is, from a terminal without echo (passwords). */
export async function readSecretLine(io: CliIo, prompt: string): Promise<string> {
  if (!io.stdin.isTTY) return (await readFirstLine(io.stdin)) ?? '';
  const { createInterface } = await import('node:readline');
  io.stderr.write(prompt);
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  // Echo nothing of what is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  io.stderr.write('\n');
  return answer;
}

/** Lines already read from a piped stdin, shared by several prompts of one command. */
const pending = new WeakMap<Readable, Promise<string[]>>();

async function readFirstLine(stream: Readable): Promise<string | undefined> {
  let lines = pending.get(stream);
  if (!lines) {
    lines = (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
    })();
    pending.set(stream, lines);
  }
  return (await lines).shift();
}
