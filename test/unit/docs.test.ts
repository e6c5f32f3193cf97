/**
 * The documentation stands alone: no file points at notes a user who clones the repository does not
 * have (the design notes this project was built from lived outside it), every relative link of the
 * Markdown files and every `docs/….md#anchor` cited in code leads to a file and heading that exist,
 * and every code reference in docs/ names a file that exists (in the WebDAV table: and the function).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * References to files outside the repository. Written as patterns that do not match their own
 * source text, so this file passes its own check.
 */
const OUTSIDE_REFERENCES: readonly RegExp[] = [
  /\.\.\/shared/,
  /shared\/S[P]EC/,
  /\bS[P]EC\b/,
  /S[P]EC\.md/,
  /WEBDAV[-]NOTES/,
  /STYLE\.md/,
];

/** Tracked and new (not ignored) files, as paths relative to the root; regular text files only. */
function repositoryTextFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  return listed
    .split('\0')
    .filter((file) => file !== '' && !file.startsWith('node_modules'))
    .filter((file) => {
      const stats = fs.lstatSync(path.join(ROOT, file), { throwIfNoEntry: false });
      return stats?.isFile() === true;
    })
    .filter((file) => !fs.readFileSync(path.join(ROOT, file)).includes(0));
}

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

/** The text outside fenced code blocks, line by line (headings and links in code are not Markdown). */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, duplicates numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    anchors.add(seen === 0 ? base : `${base}-${seen}`);
  }
  return anchors;
}

/** Whether `target` (relative to the directory `fromDir`, with an optional `#anchor`) exists. */
function brokenTarget(fromDir: string, target: string, selfFile: string): string | undefined {
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? selfFile : path.normalize(path.join(fromDir, decodeURIComponent(pathPart)));
  if (file.startsWith('..')) return 'points outside the repository';
  if (!fs.existsSync(path.join(ROOT, file))) return `${file} does not exist`;
  if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(read(file)).has(anchor)) {
    return `${file} has no heading with the anchor #${anchor}`;
  }
  return undefined;
}

const files = repositoryTextFiles();
const markdownFiles = files.filter((file) => file.endsWith('.md'));

describe('self-contained documentation', () => {
  it('finds the files it checks', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('src/remote/lock.ts');
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/README.md', 'docs/design.md', 'docs/webdav-servers.md']));
  });

  it('no file refers to design notes kept outside the repository', () => {
    const found: string[] = [];
    for (const file of files) {
      read(file).split('\n').forEach((line, i) => {
        if (OUTSIDE_REFERENCES.some((pattern) => pattern.test(line))) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(found, 'cite docs/design.md, docs/webdav-servers.md or the README instead').toEqual([]);
  });

  it('every relative link in the Markdown files leads to a file (and heading) that exists', () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      for (const line of proseLines(read(file))) {
        const prose = line.replace(/`[^`]*`/g, '');
        for (const match of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
          const target = match[1]!;
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
          const problem = brokenTarget(path.dirname(file), target, file);
          if (problem) broken.push(`${file}: (${target}) ${problem}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('every docs/….md or README.md cited anywhere exists, with the cited heading', () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const match of read(file).matchAll(/(?<![\w/.-])((?:docs\/[\w.-]+|README)\.md)(?:#([\w-]+))?/g)) {
        const target = match[2] ? `${match[1]}#${match[2]}` : match[1]!;
        const problem = brokenTarget('', target, file);
        if (problem) broken.push(`${file}: ${target}: ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every source path named in docs/ exists', () => {
    const missing: string[] = [];
    for (const file of markdownFiles.filter((f) => f.startsWith('docs/'))) {
      for (const match of read(file).matchAll(/`((?:src|test|bench|sim|soak|scripts|web)\/[\w./-]+)`/g)) {
        if (!fs.existsSync(path.join(ROOT, match[1]!))) missing.push(`${file}: ${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('each row of the WebDAV quirks table names a file that holds the functions it lists', () => {
    const lines = read('docs/webdav-servers.md').split('\n');
    const header = lines.findIndex((line) => /^\| server \|.*\| code \|$/.test(line));
    expect(header, 'the quirks table').toBeGreaterThan(0);
    const end = lines.findIndex((line, i) => i > header && !line.startsWith('|'));
    const rows = lines.slice(header + 2, end < 0 ? undefined : end);
    expect(rows.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const row of rows) {
      const cells = row.split(' | ');
      const code = cells.at(-1)!.replace(/\s*\|$/, '');
      for (const group of code.split(';')) {
        const [file, ...names] = [...group.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
        if (!file || !fs.existsSync(path.join(ROOT, file))) {
          wrong.push(`${cells[0]} ${cells[1]?.slice(0, 40)}: no file in "${group.trim()}"`);
          continue;
        }
        const source = read(file);
        for (const name of names) {
          if (!new RegExp(`\\b${name.replace(/[.$]/g, '\\$&')}\\b`).test(source)) wrong.push(`${file} has no ${name}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
