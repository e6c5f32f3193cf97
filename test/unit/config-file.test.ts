import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config-file.ts';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { tempDir } from '../support/instance.ts';

const SECRET = 'the-webdav-secret-1234';

/** The problems of a configuration that must be refused. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('the config file format (flat TOML)', () => {
  it('reads strings, literal strings, whole numbers, booleans and comments', () => {
    const { values, problems } = parseConfigText(
      [
        '\uFEFF# a comment',
        'webdav_url = "https://cloud.example/dav"   # trailing comment',
        "remote = 'file:///C:\\no\\escapes'",
        'escaped = "tab\\there \\"quoted\\" \\u00e9 \\\\"',
        'port = 8_080',
        'negative = -5',
        'flag = true',
        '',
        '   indented_key   =   "x"',
      ].join('\r\n'),
    );
    expect(problems).toEqual([]);
    expect(Object.fromEntries([...values].map(([k, v]) => [k, v.value]))).toEqual({
      webdav_url: 'https://cloud.example/dav',
      remote: 'file:///C:\\no\\escapes',
      escaped: 'tab\there "quoted" é \\',
      port: '8080',
      negative: '-5',
      flag: 'true',
      indented_key: 'x',
    });
    expect(values.get('port')!.line).toBe(5);
  });

  it('refuses, with the line number, what it does not read exactly as TOML would', () => {
    const { problems } = parseConfigText(
      [
        '[server]',
        'ports = [8080, 8081]',
        'ratio = 0.5',
        'text = """multi',
        'open = "no end',
        'host = "a" "b"',
        'port = 1',
        'port = 2',
        'bare = localhost',
        'just a sentence',
        'octal = 0755',
        'bad = "\\q"',
      ].join('\n'),
    );
    expect(problems).toEqual([
      "line 1: sections ([…]) are not supported: the file is flat 'key = value' lines",
      "line 2: ports: expected a \"quoted text\", a whole number or true/false, got '[8080,'",
      "line 3: ratio: expected a \"quoted text\", a whole number or true/false, got '0.5'",
      'line 4: text: multi-line strings are not supported',
      'line 5: open: the string has no closing quote',
      "line 6: host: unexpected text after the value: '\"b\"'",
      'line 8: port is set twice (first on line 7)',
      "line 9: bare: expected a \"quoted text\", a whole number or true/false, got 'localhost'",
      "line 10: expected 'key = value', got 'just a sentence'",
      "line 11: octal: expected a \"quoted text\", a whole number or true/false, got '0755'",
      "line 12: bad: bad escape '\\q'",
    ]);
  });
});

describe('loadConfig with a config file', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dataDir: string;
  beforeEach(() => {
    tmp = tempDir();
    dataDir = path.join(tmp.dir, 'data');
    fs.mkdirSync(dataDir);
  });
  afterEach(() => tmp.remove());

  const write = (file: string, lines: string[], mode = 0o600): string => {
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    fs.chmodSync(file, mode);
    return file;
  };

  it('precedence: the file over the defaults, the environment over the file, a flag over the environment', () => {
    const file = write(path.join(tmp.dir, 'docsync.toml'), ['port = 9001', 'history_days = 9', 'data_dir = "data"', 'log_level = "warn"']);
    const fileOnly = loadConfig({}, { config: file }, '/elsewhere');
    expect(fileOnly).toMatchObject({ port: 9001, historyDays: 9, logLevel: 'warn', dataDir, configFile: file, dataDirIsDefault: false });
    // Relative paths in the file are relative to the file's folder, not to the caller's cwd.
    expect(fileOnly.remote).toEqual({ kind: 'folder', path: path.join(tmp.dir, 'remote') });

    const withEnv = loadConfig({ PORT: '9002', DOCSYNC_CONFIG: file }, {}, '/elsewhere');
    expect(withEnv).toMatchObject({ port: 9002, historyDays: 9, configFile: file });
    const withFlag = loadConfig({ PORT: '9002', DOCSYNC_CONFIG: file }, { port: '9003', historyDays: '3' }, '/elsewhere');
    expect(withFlag).toMatchObject({ port: 9003, historyDays: 3, logLevel: 'warn' });
    // --config wins over DOCSYNC_CONFIG.
    const other = write(path.join(tmp.dir, 'other.toml'), ['port = 9100']);
    expect(loadConfig({ DOCSYNC_CONFIG: file }, { config: other }, tmp.dir).port).toBe(9100);
    // A config file without data_dir: the default data dir, but serve will not make it unasked.
    expect(loadConfig({}, { config: other }, tmp.dir)).toMatchObject({ dataDir: path.join(tmp.dir, 'data'), dataDirIsDefault: false });
  });

  it('finds docsync.toml in the data dir named by the flag, the environment or the default', () => {
    write(path.join(dataDir, 'docsync.toml'), ['data_dir = "."', 'remote = "file://../common"', 'port = 9200']);
    const expected = { port: 9200, dataDir, remote: { kind: 'folder', path: path.join(tmp.dir, 'common') } };
    expect(loadConfig({ DOCSYNC_DATA_DIR: dataDir }, {}, '/elsewhere')).toMatchObject(expected);
    expect(loadConfig({}, { dataDir: 'data' }, tmp.dir)).toMatchObject(expected);
    expect(loadConfig({}, {}, tmp.dir)).toMatchObject(expected);
    expect(loadConfig({}, {}, '/elsewhere').dataDirIsDefault).toBe(true);
    // The same file named by --config: the same settings.
    expect(loadConfig({}, { config: path.join(dataDir, 'docsync.toml') }, '/elsewhere')).toMatchObject(expected);
  });

  it('refuses unknown settings, bad values (naming the file and line), a missing named file, and a data_dir pointing away', () => {
    const file = write(path.join(dataDir, 'docsync.toml'), ['webdav_pasword = "typo"', 'port = "eighty"', 'data_dir = "/somewhere/else"']);
    expect(problemsOf(() => loadConfig({ DOCSYNC_DATA_DIR: dataDir }, {}, tmp.dir))).toEqual([
      `${file}:1: unknown setting 'webdav_pasword'`,
      `${file}:3: data_dir names another folder than the data dir the file is in: remove data_dir, or name the file with --config`,
      `port (${file}:2) must be a whole number from 0 to 65535, got 'eighty'`,
    ]);
    const missing = path.join(tmp.dir, 'nope.toml');
    expect(problemsOf(() => loadConfig({ DOCSYNC_CONFIG: missing }, {}, tmp.dir))).toEqual([
      `The config file ${missing} (--config or DOCSYNC_CONFIG) does not exist`,
    ]);
    expect(problemsOf(() => loadConfig({}, { config: tmp.dir }, tmp.dir))).toEqual([`The config file ${tmp.dir} is not a file`]);
  });

  describe('secrets', () => {
    const webdav = ['webdav_url = "http://127.0.0.1:1/dav"', 'webdav_username = "ada"'];

    it('a secret in a config file others may read is refused, and the message never shows it', () => {
      const file = write(path.join(tmp.dir, 'c.toml'), [...webdav, `webdav_password = "${SECRET}"`], 0o644);
      const problems = problemsOf(() => loadConfig({}, { config: file }, tmp.dir));
      expect(problems).toEqual([
        `${file} holds the secret webdav_password but is readable by others (mode 0644): run 'chmod 600 ${file}', ` +
          'or move the secret to WEBDAV_PASSWORD or to a file of its own named by webdav_password_file',
      ]);
      expect(problems.join('\n')).not.toContain(SECRET);
      // Refused even when the environment overrides it: the file leaks it all the same.
      expect(problemsOf(() => loadConfig({ WEBDAV_PASSWORD: 'from env' }, { config: file }, tmp.dir))).toHaveLength(1);
      for (const mode of [0o640, 0o604, 0o660]) {
        fs.chmodSync(file, mode);
        expect(problemsOf(() => loadConfig({}, { config: file }, tmp.dir))[0], mode.toString(8)).toContain(`mode 0${mode.toString(8)}`);
      }
      fs.chmodSync(file, 0o600);
      expect(loadConfig({}, { config: file }, tmp.dir).remote).toMatchObject({ kind: 'webdav', username: 'ada', password: SECRET });
      fs.chmodSync(file, 0o400);
      expect(loadConfig({}, { config: file }, tmp.dir).remote).toMatchObject({ password: SECRET });
    });

    it('webdav_password_file / WEBDAV_PASSWORD_FILE / --webdav-password-file: read from a file only its owner can read', () => {
      const secretFile = write(path.join(tmp.dir, 'pw'), [SECRET]);
      // A config file others may read may name the secret's file.
      const file = write(path.join(tmp.dir, 'c.toml'), [...webdav, 'webdav_password_file = "pw"', 'admin_password_file = "pw"'], 0o644);
      const config = loadConfig({}, { config: file }, '/elsewhere');
      expect(config.remote).toMatchObject({ password: SECRET });
      expect(config.adminPassword).toBe(SECRET);
      expect(loadConfig({ WEBDAV_PASSWORD_FILE: secretFile }, { config: file }, '/').remote).toMatchObject({ password: SECRET });
      expect(loadConfig({}, { config: file, webdavPassword: 'pw' }, tmp.dir).remote).toMatchObject({ password: SECRET });

      fs.chmodSync(secretFile, 0o644);
      expect(problemsOf(() => loadConfig({}, { config: file }, tmp.dir))).toEqual([
        `webdav_password_file (${file}:3): ${secretFile} is readable by others (mode 0644): run 'chmod 600 ${secretFile}'`,
        `admin_password_file (${file}:4): ${secretFile} is readable by others (mode 0644): run 'chmod 600 ${secretFile}'`,
      ]);
      expect(problemsOf(() => loadConfig({ WEBDAV_PASSWORD_FILE: secretFile }, {}, tmp.dir))).toEqual([
        `WEBDAV_PASSWORD_FILE: ${secretFile} is readable by others (mode 0644): run 'chmod 600 ${secretFile}'`,
      ]);
      expect(problemsOf(() => loadConfig({}, { webdavPassword: secretFile }, tmp.dir))[0]).toMatch(/^--webdav-password-file: .*\(mode 0644\)/);
      expect(problemsOf(() => loadConfig({ WEBDAV_PASSWORD_FILE: path.join(tmp.dir, 'gone') }, {}, tmp.dir))).toEqual([
        `WEBDAV_PASSWORD_FILE: cannot read ${path.join(tmp.dir, 'gone')}: ENOENT`,
      ]);
    });

    it('the environment wins over the file, a flag over the environment; the value and its file in one place are refused', () => {
      const secretFile = write(path.join(tmp.dir, 'pw'), ['from a file']);
      const file = write(path.join(tmp.dir, 'c.toml'), [...webdav, `webdav_password = "${SECRET}"`]);
      expect(loadConfig({ WEBDAV_PASSWORD: 'from env' }, { config: file }, tmp.dir).remote).toMatchObject({ password: 'from env' });
      expect(loadConfig({ WEBDAV_PASSWORD: 'from env' }, { config: file, webdavPassword: secretFile }, tmp.dir).remote).toMatchObject({
        password: 'from a file',
      });
      expect(problemsOf(() => loadConfig({ WEBDAV_PASSWORD: 'x', WEBDAV_PASSWORD_FILE: secretFile }, {}, tmp.dir))).toEqual([
        'Set WEBDAV_PASSWORD or WEBDAV_PASSWORD_FILE, not both',
      ]);
      write(file, [...webdav, `webdav_password = "${SECRET}"`, 'webdav_password_file = "pw"']);
      expect(problemsOf(() => loadConfig({}, { config: file }, tmp.dir))).toEqual([`${file}: set webdav_password or webdav_password_file, not both`]);
    });
  });
});
