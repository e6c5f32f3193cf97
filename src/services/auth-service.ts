import { createHash } from 'node:crypto';
import { isoUtc, type Clock } from '../domain/clock.ts';
import { newSecret, type IdSource } from '../domain/ids.ts';
import { BadRequestError, ConflictError, NotFoundError, UnauthorizedError } from '../errors.ts';
import type { ApiTokenRow, Principal, SqliteAuthRepository } from '../store/auth-repository.ts';
import { LoginThrottle } from './login-throttle.ts';
import { hashPassword, verifyPassword } from './password.ts';

export const USERNAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const ADMIN_USERNAME = 'admin';
const TOKEN_PREFIX = 'dst_';

export interface LoginResult {
  sessionId: string;
  username: string;
  expiresAt: string;
}

/** Users, sessions and API tokens. Session ids and tokens are returned once and stored only as digests. */
export class AuthService {
  /** Verified against when the user does not exist, so a wrong username costs as long as a wrong password. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly repo: SqliteAuthRepository,
    private readonly clock: Clock,
    private readonly ids: IdSource,
    private readonly sessionTtlMs: number,
    private readonly throttle = new LoginThrottle(clock),
  ) {}

  async createUser(username: string, password: string): Promise<void> {
    validateUsername(username);
    validatePassword(password);
    if (this.repo.findUser(username)) throw new ConflictError('user_exists', `User '${username}' already exists`);
    this.repo.insertUser(username, await hashPassword(password, this.ids.bytes(16)), this.nowIso());
  }

  /** Changes a password and signs the user out everywhere: sessions and API tokens end. */
  async setPassword(username: string, password: string): Promise<void> {
    validatePassword(password);
    const user = this.repo.findUser(username);
    if (!user) throw new NotFoundError(`No user '${username}'`);
    this.repo.updatePassword(user.id, await hashPassword(password, this.ids.bytes(16)), this.nowIso());
  }

  listUsers(): { username: string; created_at: string }[] {
    return this.repo.listUsers().map((u) => ({ username: u.username, created_at: u.created_at }));
  }

  /** Creates the `admin` user when there are no users. Returns the password only if it was generated. */
  async ensureAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    if (this.repo.userCount() > 0) return { created: false };
    const chosen = password ?? this.ids.bytes(15).toString('base64url');
    await this.createUser(ADMIN_USERNAME, chosen);
    return password === undefined ? { created: true, generatedPassword: chosen } : { created: true };
  }

  /** `address` is the client's, for throttling (429 with Retry-After after repeated failures). */
  async login(username: string, password: string, address = 'local'): Promise<LoginResult> {
    this.throttle.begin(username, address);
    const user = this.repo.findUser(username);
    let ok: boolean;
    try {
      ok = user
        ? await verifyPassword(password, user.password_hash)
        : await verifyPassword(password, await this.dummy()).then(() => false);
    } catch (error) {
      this.throttle.refund(username, address);
      throw error;
    }
    if (!user || !ok) throw new UnauthorizedError('Invalid username or password');
    this.throttle.succeeded(username, address);
    const sessionId = newSecret(this.ids);
    const expiresAtMs = this.clock.now() + this.sessionTtlMs;
    this.repo.deleteExpiredSessions(this.clock.now());
    this.repo.insertSession(digest(sessionId), user.id, this.nowIso(), expiresAtMs);
    return { sessionId, username: user.username, expiresAt: isoUtc(expiresAtMs) };
  }

  logout(sessionId: string): void {
    this.repo.deleteSession(digest(sessionId));
  }

  /** The user behind a session id, or undefined when it is unknown or expired. */
  authenticateSession(sessionId: string): Principal | undefined {
    return this.repo.findSession(digest(sessionId), this.clock.now());
  }

  /** A new API token for `username` (shown once; `Authorization: Bearer <token>`). */
  createApiToken(username: string, name: string): string {
    const user = this.repo.findUser(username);
    if (!user) throw new NotFoundError(`No user '${username}'`);
    // eslint-disable-next-line no-control-regex
    if (name.trim() === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new BadRequestError('token name must be 1-100 characters without control characters');
    }
    const token = TOKEN_PREFIX + newSecret(this.ids);
    this.repo.insertToken(user.id, name, digest(token), this.nowIso());
    return token;
  }

  /** A user's tokens, newest first, without their secrets. */
  listApiTokens(username: string): ApiTokenInfo[] {
    const user = this.repo.findUser(username);
    if (!user) throw new NotFoundError(`No user '${username}'`);
    return this.repo.listTokens(user.id).map(tokenInfo);
  }

  /** A new token with its id (for listing and revoking); the secret is shown this once. */
  issueApiToken(username: string, name: string): { token: string; info: ApiTokenInfo } {
    const token = this.createApiToken(username, name);
    const row = this.repo.findTokenRow(digest(token))!;
    return { token, info: tokenInfo(row) };
  }

  /** Revokes one of `username`'s tokens; another user's token id is "not found", as if it did not exist. */
  revokeApiToken(username: string, id: number): void {
    const user = this.repo.findUser(username);
    if (!user || !this.repo.deleteToken(user.id, id)) throw new NotFoundError(`No API token ${id} for '${username}'`);
  }

  /** Revokes the token a request authenticated with (logout with a Bearer token). */
  revokeApiTokenSecret(token: string): void {
    this.repo.deleteTokenByHash(digest(token));
  }

  authenticateToken(token: string): Principal | undefined {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const principal = this.repo.findToken(digest(token));
    if (principal) this.repo.touchToken(digest(token), this.nowIso());
    return principal;
  }

  private dummy(): Promise<string> {
    // A refusal (hasher busy) is not remembered: the next attempt computes it again.
    this.dummyHash ??= hashPassword('not a real password', Buffer.alloc(16)).catch((error: unknown) => {
      this.dummyHash = undefined;
      throw error;
    });
    return this.dummyHash;
  }

  private nowIso(): string {
    return isoUtc(this.clock.now());
  }
}

export interface ApiTokenInfo {
  id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

function tokenInfo(row: ApiTokenRow): ApiTokenInfo {
  return { id: row.id, name: row.name, created_at: row.created_at, last_used_at: row.last_used_at };
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function validateUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new BadRequestError('username must be 1-64 characters of letters, digits, dot, dash or underscore');
  }
}

function validatePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new BadRequestError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}
