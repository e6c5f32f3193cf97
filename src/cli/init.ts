import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { CONFIG_FILE_NAME, formatConfigValue } from '../config-file.ts';
import { CONFIG_ENV, cliFlag, describeRemote, fileKey, loadConfig, OPTIONS, type Config, type OptionName } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { makeDirs, prepareDataDir } from '../store/data-dir.ts';
import { addConfigOptions, flagsFrom } from './config-options.ts';
import { println, type CliIo } from './io.ts';

/** Shown, commented out, for settings that have no default. */
const EXAMPLES: Partial<Record<OptionName, string>> = {
  webdavBaseUrl: 'https://cloud.example.org/remote.php/dav/files/ada',
  webdavUsername: 'ada',
};

export function registerInit(program: Command, io: CliIo): void {
  const names = (Object.keys(OPTIONS) as OptionName[]).filter((n) => n !== 'dataDir');
  const init = program
    .command('init')
    .description(`make a data dir and write its config file (${CONFIG_FILE_NAME} in the data dir, or --config), read by serve and every other command`);
  addConfigOptions(init, names).action((_opts, command: Command) => {
    const flags = flagsFrom(command);
    const env = { ...io.env, [CONFIG_ENV]: undefined };
    // Validated as `serve` would read it, but from the flags and the environment only: the file is new.
    const config = loadConfig(env, { ...flags, config: undefined }, io.cwd, { readConfigFile: false });
    const named = flags.config ?? (io.env[CONFIG_ENV] || undefined);
    const target = named === undefined ? path.join(config.dataDir, CONFIG_FILE_NAME) : path.resolve(io.cwd, named);
    if (fs.existsSync(target)) throw new ConfigError([`${target} exists already: edit it, or remove it to write a new one`]);
    prepareDataDir(config.dataDir, { create: true });
    makeDirs(path.dirname(target));
    const given = (name: OptionName): string | undefined => {
      const spec = OPTIONS[name];
      // A secret is never written, only the path of the file holding it.
      const value = 'secret' in spec && spec.secret ? (flags[name] ?? (io.env[`${spec.env}_FILE`] || undefined)) : (flags[name] ?? (io.env[spec.env] || undefined));
      return value !== undefined && 'secret' in spec && spec.secret ? path.resolve(io.cwd, value) : value;
    };
    // Owner-only from the start: the operator may add a secret to it later.
    fs.writeFileSync(target, renderConfig(config, target, given), { flag: 'wx', mode: 0o600 });

    println(io.stdout, `Wrote ${target} (data dir ${config.dataDir}, remote ${describeRemote(config.remote)})`);
    for (const name of names) {
      if ('secret' in OPTIONS[name] && io.env[OPTIONS[name].env]) {
        println(io.stdout, `${OPTIONS[name].env} is not written to the file: keep it in the environment, or name a file only you can read with ${fileKey(name)}_file`);
      }
    }
    const start = named !== undefined ? ` --config ${target}` : config.dataDirIsDefault ? '' : ` --data-dir ${config.dataDir}`;
    println(io.stdout, `Start the server with: docsync serve${start}`);
  });
}

/** The file `init` writes: the data dir, the remote and the listen address set, every other setting commented with its default. */
function renderConfig(config: Config, target: string, given: (name: OptionName) => string | undefined): string {
  const lines = [
    `# docsync configuration, written by 'docsync init'.`,
    `# Read by 'docsync serve' and every other docsync command that uses this data dir (or --config ${target}).`,
    '# Environment variables and command-line flags override what is set here.',
    `# Format: flat TOML, one 'key = "text"' or 'key = number' a line; '#' starts a comment.`,
    "# Relative paths are relative to this file's folder.",
    '# Secrets (passwords, tokens) may be written here only while the file is readable by its owner',
    "# alone (chmod 600); or keep them in the environment, or in a file of their own named by '<key>_file'.",
  ];
  const setting = (name: OptionName, value: string | undefined): void => {
    const spec = OPTIONS[name];
    const secret = 'secret' in spec && spec.secret;
    lines.push('', `# ${spec.help} (env ${spec.env}${secret ? ` or ${spec.env}_FILE` : ''}; flag --${cliFlag(name)})`);
    const key = secret ? `${fileKey(name)}_file` : fileKey(name);
    const example = secret ? '/etc/docsync/secret-only-you-can-read' : 'default' in spec ? spec.default : EXAMPLES[name];
    if (value !== undefined) lines.push(`${key} = ${formatConfigValue(value)}`);
    else if (example !== undefined) lines.push(`# ${key} = ${formatConfigValue(example)}`);
  };
  const remote = config.remote;
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    if (name === 'dataDir') setting(name, path.dirname(target) === config.dataDir ? '.' : config.dataDir);
    else if (name === 'port' || name === 'host') setting(name, String(config[name]));
    // The remote is always written out, resolved: the CLI and the server must see the same one.
    else if (name === 'remote') setting(name, remote.kind === 'folder' ? pathToFileURL(remote.path).href : remote.kind === 'none' ? 'none' : undefined);
    else if (name === 'webdavBaseUrl') setting(name, remote.kind === 'webdav' ? remote.baseUrl : undefined);
    else if (name === 'webdavRemoteRoot') setting(name, remote.kind === 'webdav' ? remote.remoteRoot : undefined);
    else setting(name, given(name));
  }
  return `${lines.join('\n')}\n`;
}
