/**
 * Names for files written to a person's disk (`docsync export`): a stored filename is data (it may
 * hold `/`, `..`, `:` or `CON`), so each one is made into a single path segment that Linux, macOS
 * and Windows all accept, and names that would collide are made unique deterministically.
 */

/** Bytes of one path segment most filesystems accept (ext4, APFS, NTFS in UTF-16 units: fewer). */
const MAX_SEGMENT_BYTES = 200;

// Forbidden on Windows (and `/` everywhere), plus control characters.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[<>:"/\\|?*\u0000-\u001f\u007f]/g;
/** Device names Windows reserves whatever the extension (`con.txt` too). */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** One safe path segment for `name`; never empty, never hidden (a leading dot), never `.`/`..`. */
export function safeSegment(name: string): string {
  let out = name.normalize('NFC').replace(FORBIDDEN, '_');
  // Windows drops trailing dots and spaces; a leading dot hides the file (and `import` skips it).
  out = out.replace(/[. ]+$/, (m) => '_'.repeat(m.length)).replace(/^\./, '_');
  if (out.trim() === '') out = '_';
  if (RESERVED.test(out)) out = `_${out}`;
  return truncateSegment(out, MAX_SEGMENT_BYTES);
}

/** Cuts the stem (keeping the extension) until the name fits in `maxBytes` of UTF-8. */
function truncateSegment(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const { stem, ext } = splitExtension(name);
  const chars = [...stem];
  while (chars.length > 1 && Buffer.byteLength(chars.join('') + ext) > maxBytes) chars.pop();
  const fitted = chars.join('') + ext;
  return Buffer.byteLength(fitted) <= maxBytes ? fitted : [...fitted].slice(0, 50).join('');
}

/** `report.tei.xml` → `report` + `.tei.xml`; a name without a dot has no extension. */
export function splitExtension(name: string): { stem: string; ext: string } {
  const match = /^(.+?)((?:\.tei)?\.[^.]{1,16})$/.exec(name);
  return match ? { stem: match[1]!, ext: match[2]! } : { stem: name, ext: '' };
}

/** How two names compare on a case-insensitive filesystem (Windows, macOS by default). */
export function collisionKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/**
 * Gives an entry a name unique within its folder: its safe name when free, else ` (<tag>)` before the
 * extension, then ` (<tag>-2)`, … (the stem is shortened, never the suffix). The caller goes through
 * the entries in a fixed order, so the same store always gets the same names. `taken` holds the
 * collision keys of the names already used in the folder, and gets the new one.
 */
export function uniqueName(wanted: string, tag: string, taken: Set<string>): string {
  const { stem, ext } = splitExtension(wanted);
  for (let n = 0; ; n++) {
    const suffix = n === 0 ? '' : ` (${tag}${n > 1 ? `-${n}` : ''})`;
    const room = MAX_SEGMENT_BYTES - Buffer.byteLength(suffix + ext);
    const chars = [...stem];
    while (chars.length > 1 && Buffer.byteLength(chars.join('')) > room) chars.pop();
    const candidate = n === 0 ? wanted : `${chars.join('')}${suffix}${ext}`;
    const key = collisionKey(candidate);
    if (!taken.has(key)) {
      taken.add(key);
      return candidate;
    }
  }
}
