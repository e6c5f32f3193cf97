import type { Command } from 'commander';
import { loadConfig, OPTIONS, type Config, type ConfigFlags, type OptionName } from '../config.ts';
import type { CliIo } from './io.ts';

/** Adds `--<flag> <value>` for each option, with the environment variable named in the help. */
export function addConfigOptions(command: Command, names: readonly OptionName[]): Command {
  for (const name of names) {
    const spec = OPTIONS[name];
    const fallback = 'default' in spec ? `; default ${spec.default}` : '';
    command.option(`--${spec.flag} <value>`, `${spec.help} (env ${spec.env}${fallback})`);
  }
  return command;
}

/** The configuration from the environment, overridden by whatever flags `command` and its parents got. */
export function configFrom(command: Command, io: CliIo): Config {
  const given = command.optsWithGlobals() as Record<string, string | undefined>;
  const flags: ConfigFlags = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const key = camel(OPTIONS[name].flag);
    if (given[key] !== undefined) flags[name] = given[key];
  }
  return loadConfig(io.env, flags, io.cwd);
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
