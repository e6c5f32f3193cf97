import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  created_at: string;
  updated_at: string;
}

export interface ApiTokenRow {
  id: number;
  user_id: number;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface Principal {
  userId: number;
  username: string;
}

/** Users, login sessions and API tokens. Secrets arrive here already digested. */
export class SqliteAuthRepository {
  /** Statements are prepared once: `findSession` runs on every authenticated request. */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  private prepare<P extends unknown[], R = unknown>(sql: string): Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Statement<P, R>;
  }

  userCount(): number {
    return this.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM users').get()?.n ?? 0;
  }

  findUser(username: string): UserRow | undefined {
    return this.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?').get(username);
  }

  listUsers(): UserRow[] {
    return this.prepare<[], UserRow>('SELECT * FROM users ORDER BY username').all();
  }

  insertUser(username: string, passwordHash: string, now: string): void {
    this.prepare('INSERT INTO users (username, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)')
      .run(username, passwordHash, now, now);
  }

  /** Sets a new password and ends every session and API token of that user, in one transaction. */
  updatePassword(userId: number, passwordHash: string, now: string): void {
    this.db.transaction(() => {
      this.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(passwordHash, now, userId);
      this.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
      this.prepare('DELETE FROM api_tokens WHERE user_id = ?').run(userId);
    })();
  }

  insertSession(idHash: string, userId: number, now: string, expiresAtMs: number): void {
    this.prepare('INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(idHash, userId, now, expiresAtMs);
  }

  /** The session's user, if the session exists and has not expired at `nowMs`. */
  findSession(idHash: string, nowMs: number): Principal | undefined {
    return this.prepare<[string, number], Principal>(
        `SELECT users.id AS userId, users.username AS username FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.id_hash = ? AND sessions.expires_at > ?`,
      )
      .get(idHash, nowMs);
  }

  deleteSession(idHash: string): void {
    this.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
  }

  deleteExpiredSessions(nowMs: number): number {
    return this.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(nowMs).changes;
  }

  insertToken(userId: number, name: string, tokenHash: string, now: string): void {
    this.prepare('INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(userId, name, tokenHash, now);
  }

  findToken(tokenHash: string): Principal | undefined {
    return this.prepare<[string], Principal>(
        `SELECT users.id AS userId, users.username AS username FROM api_tokens
         JOIN users ON users.id = api_tokens.user_id WHERE api_tokens.token_hash = ?`,
      )
      .get(tokenHash);
  }

  touchToken(tokenHash: string, now: string): void {
    this.prepare('UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?').run(now, tokenHash);
  }

  listTokens(userId: number): ApiTokenRow[] {
    return this.prepare<[number], ApiTokenRow>(
      'SELECT id, user_id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id DESC',
    ).all(userId);
  }

  findTokenRow(tokenHash: string): ApiTokenRow | undefined {
    return this.prepare<[string], ApiTokenRow>(
      'SELECT id, user_id, name, created_at, last_used_at FROM api_tokens WHERE token_hash = ?',
    ).get(tokenHash);
  }

  /** False when the user has no token with that id. */
  deleteToken(userId: number, id: number): boolean {
    return this.prepare('DELETE FROM api_tokens WHERE id = ? AND user_id = ?').run(id, userId).changes > 0;
  }

  deleteTokenByHash(tokenHash: string): void {
    this.prepare('DELETE FROM api_tokens WHERE token_hash = ?').run(tokenHash);
  }
}
