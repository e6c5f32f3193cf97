import { randomBytes, randomUUID } from 'node:crypto';

declare const stableIdBrand: unique symbol;
/** A file's identity: short, random, never changes (docs/design.md#local-data-model). */
export type StableId = string & { readonly [stableIdBrand]: true };

/** No 0/o, 1/l/i: ids are read aloud and typed by people. */
export const STABLE_ID_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
export const STABLE_ID_LENGTH = 12;
/** What the API accepts as an id, and what a remote row must carry (new ids are 12 characters; older data may hold other lengths). */
export const STABLE_ID_PATTERN = new RegExp(`^[${STABLE_ID_ALPHABET}]{10,32}$`);

export function isStableId(value: string): value is StableId {
  return STABLE_ID_PATTERN.test(value);
}

export function stableIdProblem(value: unknown): string | undefined {
  if (typeof value === 'string' && isStableId(value)) return undefined;
  return `stable_id must be 10-32 characters of ${STABLE_ID_ALPHABET}`;
}

/** Source of randomness. Injected so tests and the simulation are deterministic. */
export interface IdSource {
  /** `n` random bytes. */
  bytes(n: number): Buffer;
  /** A random UUID (instance ids, repository ids). */
  uuid(): string;
}

export const cryptoIdSource: IdSource = {
  bytes: (n) => randomBytes(n),
  uuid: () => randomUUID(),
};

/**
 * A deterministic id source (mulberry32): the same seed gives the same ids. For tests and the
 * simulation only — never for secrets.
 */
export function seededIdSource(seed: number): IdSource {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const bytes = (n: number): Buffer => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = next() & 0xff;
    return out;
  };
  return {
    bytes,
    uuid: () => {
      const b = bytes(16);
      b[6] = (b[6]! & 0x0f) | 0x40;
      b[8] = (b[8]! & 0x3f) | 0x80;
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}

/** A new stable id, drawn without modulo bias (bytes >= 248 are rejected: 248 = 8 × 31). */
export function newStableId(ids: IdSource): StableId {
  let out = '';
  while (out.length < STABLE_ID_LENGTH) {
    for (const byte of ids.bytes(STABLE_ID_LENGTH * 2)) {
      if (byte < 248 && out.length < STABLE_ID_LENGTH) out += STABLE_ID_ALPHABET[byte % 31];
    }
  }
  return out as StableId;
}

/** An opaque secret (session id, API token): 32 random bytes, base64url. */
export function newSecret(ids: IdSource): string {
  return ids.bytes(32).toString('base64url');
}
