import type { Command } from 'commander';
import { cliFlag, loadConfig, OPTIONS, type Config, type ConfigFlags, type OptionName } from '../config.ts';
import type { CliIo } from './io.ts';

/** Adds `--<flag> <value>` for each option (a secret's flag names its file), with the environment variable named in the help. */
export function addConfigOptions(command: Command, names: readonly OptionName[]): Command {
  for (const name of names) {
    const spec = OPTIONS[name];
    const fallback = 'default' in spec ? `; default ${spec.default}` : '';
    const secret = 'secret' in spec && spec.secret;
    const help = secret ? `file holding the ${spec.help}, readable by its owner alone` : spec.help;
    command.option(`--${cliFlag(name)} <${secret ? 'path' : 'value'}>`, `${help} (env ${spec.env}${fallback})`);
  }
  return command;
}

/** The flags `command` and its parents got, by option name (and `config`). */
export function flagsFrom(command: Command): ConfigFlags {
  const given = command.optsWithGlobals() as Record<string, string | undefined>;
  const flags: ConfigFlags = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const key = camel(cliFlag(name));
    if (given[key] !== undefined) flags[name] = given[key];
  }
  if (given.config !== undefined) flags.config = given.config;
  return flags;
}

/** The configuration from the config file and the environment, overridden by whatever flags `command` and its parents got. */
export function configFrom(command: Command, io: CliIo): Config {
  return loadConfig(io.env, flagsFrom(command), io.cwd);
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
