import { PreconditionFailedError, RemoteAuthError, RemoteUnavailableError, type RemoteError } from './errors.ts';

/** The operations of a `Remote`, as fault rules name them. */
export type RemoteOperation = 'stat' | 'get' | 'getBytes' | 'put' | 'delete' | 'list' | 'mkdir' | 'serverTime';

export const REMOTE_OPERATIONS: readonly RemoteOperation[] = [
  'stat', 'get', 'getBytes', 'put', 'delete', 'list', 'mkdir', 'serverTime'];

/** What an injected fault does to the call it matches. */
export type FaultEffect =
  /** The server answers with this status: `RemoteUnavailableError`; the call has no effect. */
  | { kind: 'error'; status: 503 | 423 | 500 | 429 }
  /** 401 / 403: `RemoteAuthError` (expired or revoked credentials). */
  | { kind: 'auth'; status: 401 | 403 }
  /** 412: `PreconditionFailedError`, whatever the call's conditions (some routers and Seafile do this). */
  | { kind: 'precondition' }
  /** The connection drops: `RemoteUnavailableError`. For `get` the stream fails part way instead. */
  | { kind: 'reset' }
  /** The server does the work, then the connection drops before the answer: the classic ambiguous failure. */
  | { kind: 'lostResponse' }
  /** `put` only: acknowledged, but nothing is stored. */
  | { kind: 'lostWrite' }
  /** Waits `ms` on the injected sleep first. Delays add up; the call then proceeds (or meets the next rule). */
  | { kind: 'delay'; ms: number }
  /** `get` / `getBytes` only: only the first half of the bytes arrives, and the body ends normally. */
  | { kind: 'truncate' };

export interface FaultRule {
  /** The operation(s) the rule applies to. */
  op: RemoteOperation | readonly RemoteOperation[];
  /** A path prefix (`'metadata/'`; `''` is every path) or a predicate. Absent: every path. */
  path?: string | ((path: string, op: RemoteOperation) => boolean);
  /** How many matching calls it affects: default 1, `Infinity` for all of them. */
  times?: number;
  effect: FaultEffect;
}

/** A rule once injected: how often it fired, how often it still will, and a way to withdraw it. */
export interface InjectedFault {
  readonly rule: FaultRule;
  readonly hits: number;
  readonly remaining: number;
  cancel(): void;
}

/** What a call meets: the total delay to wait, then at most one outcome-changing effect. */
export interface FaultOutcome {
  delayMs: number;
  effect?: Exclude<FaultEffect, { kind: 'delay' }>;
}

const ONLY_ON: Partial<Record<FaultEffect['kind'], readonly RemoteOperation[]>> = {
  lostWrite: ['put'],
  truncate: ['get', 'getBytes'],
};

class ActiveFault implements InjectedFault {
  hits = 0;
  remaining: number;
  constructor(readonly rule: FaultRule) {
    this.remaining = rule.times ?? 1;
  }
  cancel(): void {
    this.remaining = 0;
  }
  matches(op: RemoteOperation, path: string): boolean {
    const ops: readonly RemoteOperation[] = typeof this.rule.op === 'string' ? [this.rule.op] : this.rule.op;
    if (this.remaining <= 0 || !ops.includes(op)) return false;
    const { path: filter } = this.rule;
    if (filter === undefined) return true;
    return typeof filter === 'string' ? path.startsWith(filter) : filter(path, op);
  }
}

/**
 * The fault rules of one `MemoryRemote`. Rules are consulted in the order they were injected:
 * every matching `delay` rule fires and its delay adds up, and the first matching rule of any
 * other kind decides the outcome — so a slow server and a failing one can be combined.
 */
export class FaultInjector {
  private rules: ActiveFault[] = [];

  /** Adds a rule; it affects the next `times` matching calls. */
  inject(rule: FaultRule): InjectedFault {
    validate(rule);
    const active = new ActiveFault(rule);
    this.rules.push(active);
    return active;
  }

  /** Withdraws every rule. */
  clear(): void {
    this.rules = [];
  }

  /** Rules that will still fire. */
  get pending(): readonly InjectedFault[] {
    return this.rules.filter((rule) => rule.remaining > 0);
  }

  /** Consumes the rules that a call of `op` on `path` meets. */
  take(op: RemoteOperation, path: string): FaultOutcome {
    const outcome: FaultOutcome = { delayMs: 0 };
    for (const rule of this.rules) {
      if (!rule.matches(op, path)) continue;
      rule.hits++;
      rule.remaining--;
      const { effect } = rule.rule;
      if (effect.kind === 'delay') {
        outcome.delayMs += effect.ms;
        continue;
      }
      outcome.effect = effect;
      break;
    }
    this.rules = this.rules.filter((rule) => rule.remaining > 0);
    return outcome;
  }
}

/** The error a failing effect throws, or `undefined` for effects that do not throw by themselves. */
export function faultError(effect: FaultEffect, op: RemoteOperation, path: string): RemoteError | undefined {
  const where = `${op} ${path === '' ? '/' : path}`;
  switch (effect.kind) {
    case 'error':
      return new RemoteUnavailableError(`Injected ${effect.status} on ${where}`, { status: effect.status });
    case 'auth':
      return new RemoteAuthError(`Injected ${effect.status} on ${where}`, effect.status);
    case 'precondition':
      return new PreconditionFailedError(path);
    case 'reset':
    case 'lostResponse':
      return new RemoteUnavailableError(`Injected connection reset on ${where}`);
    default:
      return undefined;
  }
}

function validate(rule: FaultRule): void {
  const ops = typeof rule.op === 'string' ? [rule.op] : rule.op;
  const allowed = ONLY_ON[rule.effect.kind];
  const wrong = allowed ? ops.filter((op) => !allowed.includes(op)) : [];
  if (wrong.length > 0) throw new Error(`fault '${rule.effect.kind}' cannot apply to ${wrong.join(', ')}`);
  if (ops.length === 0) throw new Error('a fault rule needs at least one operation');
  if (rule.times !== undefined && !(rule.times >= 1)) throw new Error(`fault 'times' must be >= 1: ${rule.times}`);
}
