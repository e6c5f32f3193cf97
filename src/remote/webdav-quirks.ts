/**
 * What particular WebDAV servers do differently, measured on real ones (lighttpd, sabre/dav, Apache,
 * nginx, rclone) and handled here, each with its reason, so `WebDavRemote` stays about requests.
 */

/**
 * The text of a PROPFIND property. lighttpd annotates `getlastmodified` with an attribute
 * (`ns0:dt="dateTime.rfc1123"`), which the XML parser hands back as `{ text, '@dt' }` instead of
 * the string: read as a string it was no date at all, so a lock folder never aged into "stale".
 */
export function propText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && 'text' in value) return propText((value as { text: unknown }).text);
  return undefined;
}
