import { Command, CommanderError } from 'commander';
import { CONFIG_FILE_NAME } from '../config-file.ts';
import { CONFIG_ENV, OPTIONS } from '../config.ts';
import { AppError, ConfigError, storageErrorOf } from '../errors.ts';
import { CommandExit, EXIT, exitCodeOf } from './exit-codes.ts';
import { sqlite } from '../store/sqlite.ts';
import { VERSION } from '../version.ts';
import { registerBackup } from './backup.ts';
import { registerFiles } from './files.ts';
import { registerHistory } from './history.ts';
import { registerImportExport } from './import-export.ts';
import { registerInit } from './init.ts';
import { registerGc } from './gc.ts';
import { println, processIo, type CliIo } from './io.ts';
import { registerRecover } from './recover.ts';
import { registerServe } from './serve.ts';
import { registerStatus } from './status.ts';
import { registerSync } from './sync.ts';
import { registerUser } from './user.ts';

/** The `docsync` command line. Every command works on the data dir through the same services as the HTTP API. */
export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command('docsync')
    .description('docsync: a document store whose instances sync through WebDAV or a shared folder')
    .version(`${VERSION} (Node ${process.version}, ${sqlite.description})`)
    .option(`--${OPTIONS.dataDir.flag} <path>`, `${OPTIONS.dataDir.help} (env ${OPTIONS.dataDir.env}; default ./data)`)
    .option('--config <file>', `config file (env ${CONFIG_ENV}; default ${CONFIG_FILE_NAME} in the data dir, if there is one)`)
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerInit(program, io);
  registerServe(program, io);
  registerUser(program, io);
  registerFiles(program, io);
  registerHistory(program, io);
  registerStatus(program, io);
  registerSync(program, io);
  registerRecover(program, io);
  registerGc(program, io);
  registerImportExport(program, io);
  registerBackup(program, io);
  return program;
}

/** Runs the CLI and returns the exit code (see `EXIT`: 0 ok, 1 failed, 2 usage, 3 conflicts, 4 remote unreachable). */
export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  program.exitOverride();
  for (const command of program.commands) exitOverrideAll(command);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    // The command has already said what happened.
    if (error instanceof CommandExit) return error.code;
    if (error instanceof ConfigError) {
      println(io.stderr, error.message);
      return EXIT.usage;
    }
    // A data dir that cannot be used as it is (LocalStateError, usage): the person has to act.
    const mapped = error instanceof AppError ? error : (storageErrorOf(error) ?? error);
    const message = mapped instanceof Error ? mapped.message : String(mapped);
    println(io.stderr, `error: ${message}`);
    return exitCodeOf(mapped);
  }
}

function exitOverrideAll(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitOverrideAll(sub);
}
