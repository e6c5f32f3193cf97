import type { Command } from 'commander';
import { BadRequestError } from '../errors.ts';
import { withDocsync } from './context.ts';
import { println, readSecretLine, type CliIo } from './io.ts';

export function registerUser(program: Command, io: CliIo): void {
  const user = program.command('user').description('manage users and API tokens');

  user
    .command('add <username>')
    .description('create a user (password read from stdin, or asked for on a terminal)')
    .action((username: string, _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const password = await askNewPassword(io);
        await docsync.auth.createUser(username, password);
        println(io.stdout, `Created user '${username}'`);
      }),
    );

  user
    .command('passwd <username>')
    .description("set a user's password (ends that user's sessions)")
    .action((username: string, _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        const password = await askNewPassword(io);
        await docsync.auth.setPassword(username, password);
        println(io.stdout, `Password changed for '${username}'`);
      }),
    );

  user
    .command('list')
    .description('list users')
    .action((_opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        for (const u of docsync.auth.listUsers()) println(io.stdout, `${u.username}\t${u.created_at}`);
      }),
    );

  user
    .command('token <username>')
    .description('create an API token (Authorization: Bearer <token>); printed once')
    .option('--name <name>', 'what the token is for', 'cli')
    .action((username: string, opts: { name: string }, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        println(io.stdout, docsync.auth.createApiToken(username, opts.name));
      }),
    );

  user
    .command('tokens <username>')
    .description("list a user's API tokens (id, name, created, last used; never the secret)")
    .action((username: string, _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        for (const t of docsync.auth.listApiTokens(username)) {
          println(io.stdout, `${t.id}\t${t.name}\t${t.created_at}\t${t.last_used_at ?? 'never used'}`);
        }
      }),
    );

  user
    .command('revoke-token <username> <id>')
    .description("revoke one of a user's API tokens (see 'user tokens')")
    .action((username: string, id: string, _opts, command: Command) =>
      withDocsync(command, io, async (docsync) => {
        if (!/^[1-9][0-9]*$/.test(id)) throw new BadRequestError(`token id must be a positive integer (got '${id}')`);
        docsync.auth.revokeApiToken(username, Number(id));
        println(io.stdout, `Revoked API token ${id} of '${username}'`);
      }),
    );
}

async function askNewPassword(io: CliIo): Promise<string> {
  const password = await readSecretLine(io, 'New password: ');
  if (io.stdin.isTTY) {
    const again = await readSecretLine(io, 'Repeat password: ');
    if (again !== password) throw new BadRequestError('the two passwords differ');
  }
  return password;
}
