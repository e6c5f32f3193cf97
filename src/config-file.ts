import fs from 'node:fs';
import path from 'node:path';

/**
 * docsync's config file: flat TOML (`key = "text"`, `key = 123`, `key = true`, `#` comments), the
 * format operators know from Syncthing-era tools and Cargo, read without a TOML dependency. Anything
 * outside that subset (tables, arrays, multi-line strings, dates) is refused with its line number,
 * never read differently from what a full TOML reader would make of it.
 */
export const CONFIG_FILE_NAME = 'docsync.toml';

/** A secret stored in a file (or a config file holding one) may be larger than this only by mistake. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

export interface ConfigFileValue {
  value: string;
  line: number;
}

export interface ConfigFile {
  path: string;
  /** Relative paths inside the file resolve against its folder, not against the caller's cwd. */
  dir: string;
  values: Map<string, ConfigFileValue>;
  /** False when group or others may read the file: it must then hold no secret. */
  ownerOnly: boolean;
  mode: number;
}

/** Reads and parses a config file; `undefined` when there is none. Problems are appended, never thrown. */
export function readConfigFile(file: string, problems: string[]): ConfigFile | undefined {
  let text: string;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
    if (!stat.isFile()) {
      problems.push(`The config file ${file} is not a file`);
      return undefined;
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    problems.push(`The config file ${file} cannot be read: ${(error as Error).message}`);
    return undefined;
  }
  const parsed = parseConfigText(text);
  for (const problem of parsed.problems) problems.push(`${file}: ${problem}`);
  return { path: file, dir: path.dirname(file), values: parsed.values, ownerOnly: isOwnerOnly(stat), mode: stat.mode & 0o777 };
}

/**
 * Reads a secret from a file of its own (`webdav_password_file`, `WEBDAV_PASSWORD_FILE`), as Docker
 * and systemd credentials hand them over: one trailing newline is dropped. The file must be readable
 * by its owner alone, like an ssh key.
 */
export function readSecretFile(file: string, where: string, problems: string[]): string | undefined {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) {
      problems.push(`${where}: ${file} is not a file`);
      return undefined;
    }
    if (!isOwnerOnly(stat)) {
      problems.push(`${where}: ${file} ${othersMay(stat.mode)}: run 'chmod 600 ${file}'`);
      return undefined;
    }
    if (stat.size > MAX_SECRET_FILE_BYTES) {
      problems.push(`${where}: ${file} is ${stat.size} bytes, more than a secret can be (${MAX_SECRET_FILE_BYTES})`);
      return undefined;
    }
    const secret = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (secret === '') problems.push(`${where}: ${file} is empty`);
    return secret === '' ? undefined : secret;
  } catch (error) {
    problems.push(`${where}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return undefined;
  }
}

/** What `ls -l` would say about who else may use the file, for the error message. */
export function othersMay(mode: number): string {
  return `is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`;
}

function isOwnerOnly(stat: fs.Stats): boolean {
  // Windows has no such mode bits: Node reports 0o666 for every file there.
  if (process.platform === 'win32') return true;
  return (stat.mode & 0o077) === 0;
}

/** Parses the flat TOML subset. Values come back as text: integers and booleans as written. */
export function parseConfigText(text: string): { values: Map<string, ConfigFileValue>; problems: string[] } {
  const values = new Map<string, ConfigFileValue>();
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (trimmed.startsWith('[')) {
      problems.push(`line ${line}: sections ([…]) are not supported: the file is flat 'key = value' lines`);
      return;
    }
    const match = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(trimmed);
    if (!match) {
      problems.push(`line ${line}: expected 'key = value', got '${trimmed}'`);
      return;
    }
    const key = match[1]!;
    const parsed = parseValue(match[2]!);
    if ('problem' in parsed) {
      problems.push(`line ${line}: ${key}: ${parsed.problem}`);
      return;
    }
    if (!/^\s*(#.*)?$/.test(parsed.rest)) {
      problems.push(`line ${line}: ${key}: unexpected text after the value: '${parsed.rest.trim()}'`);
      return;
    }
    if (values.has(key)) {
      problems.push(`line ${line}: ${key} is set twice (first on line ${values.get(key)!.line})`);
      return;
    }
    values.set(key, { value: parsed.value, line });
  });
  return { values, problems };
}

type Parsed = { value: string; rest: string } | { problem: string };

const EXPECTED = `expected a "quoted text", a whole number or true/false`;

function parseValue(text: string): Parsed {
  if (text.startsWith('"""') || text.startsWith("'''")) return { problem: 'multi-line strings are not supported' };
  if (text.startsWith('"')) return parseBasicString(text);
  if (text.startsWith("'")) {
    const end = text.indexOf("'", 1);
    if (end < 0) return { problem: 'the string has no closing quote' };
    return { value: text.slice(1, end), rest: text.slice(end + 1) };
  }
  const bare = /^([^\s#]+)(.*)$/.exec(text);
  if (!bare) return { problem: `no value: ${EXPECTED}` };
  const [, token, rest] = bare as unknown as [string, string, string];
  if (token === 'true' || token === 'false') return { value: token, rest };
  // TOML integers: optional sign, digits with single underscores between them, no leading zero.
  if (/^[+-]?(0|[1-9](_?\d)*)$/.test(token)) return { value: String(Number(token.replace(/_/g, ''))), rest };
  return { problem: `${EXPECTED}, got '${token}'` };
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

function parseBasicString(text: string): Parsed {
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return { value, rest: text.slice(i + 1) };
    if (c !== '\\') {
      value += c;
      continue;
    }
    const e = text[i + 1] ?? '';
    if (e in ESCAPES) {
      value += ESCAPES[e];
      i += 1;
    } else if (e === 'u' || e === 'U') {
      const digits = e === 'u' ? 4 : 8;
      const hex = text.slice(i + 2, i + 2 + digits);
      const code = /^[0-9A-Fa-f]+$/.test(hex) && hex.length === digits ? Number.parseInt(hex, 16) : Number.NaN;
      if (!(code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) return { problem: `bad escape '\\${e}${hex}'` };
      value += String.fromCodePoint(code);
      i += 1 + digits;
    } else {
      return { problem: `bad escape '\\${e}'` };
    }
  }
  return { problem: 'the string has no closing quote' };
}

/** A value as the file writes it: whole numbers bare, everything else a basic string. */
export function formatConfigValue(value: string): string {
  // JSON's string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
  return /^(0|[1-9]\d{0,14})$/.test(value) ? value : JSON.stringify(value);
}
