import type { Step } from './steps.ts';

export interface ShrinkOptions {
  /** Stop trying (and return the smallest failing list so far) at this time (ms since the epoch). */
  deadline: number;
  /** Indexes of steps that did nothing in the failing run: tried away all at once first. */
  noops?: readonly number[];
  onProgress?: (size: number, tries: number) => void;
}

export interface ShrinkResult {
  steps: Step[];
  tries: number;
  /** False when the deadline cut the search short (the list may not be 1-minimal). */
  complete: boolean;
}

/**
 * Shrinks a failing step list while `stillFails` holds. `stillFails` replays a candidate from scratch
 * (runs are deterministic) and says whether it fails the same way (the same invariant).
 *
 * First a few coarse passes that often remove most steps in a handful of replays: the steps that did
 * nothing, then all steps of one kind, then all steps of one instance. Then delta debugging (ddmin,
 * Zeller & Hildebrandt): remove chunks, halving the chunk size when nothing can go, until no single
 * step can be removed — the result is 1-minimal unless the deadline cut it short.
 */
export async function shrink(steps: readonly Step[], stillFails: (steps: Step[]) => Promise<boolean>, options: ShrinkOptions): Promise<ShrinkResult> {
  let current = [...steps];
  let tries = 0;
  const timeUp = (): boolean => Date.now() > options.deadline;
  const attempt = async (candidate: Step[], sameLength = false): Promise<boolean> => {
    if ((!sameLength && candidate.length === current.length) || candidate.length === 0) return false;
    tries++;
    const fails = await stillFails(candidate);
    if (fails) {
      current = candidate;
      options.onProgress?.(candidate.length, tries);
    }
    return fails;
  };

  if (options.noops && options.noops.length > 0) {
    const noops = new Set(options.noops);
    await attempt(current.filter((_, i) => !noops.has(i)));
  }
  const kinds = [...new Set(current.map((s) => s.kind))];
  for (const kind of kinds) {
    if (timeUp()) return { steps: current, tries, complete: false };
    await attempt(current.filter((s) => s.kind !== kind));
  }
  const instances = [...new Set(current.flatMap((s) => ('inst' in s ? [s.inst] : [])))];
  for (const inst of instances) {
    if (timeUp()) return { steps: current, tries, complete: false };
    await attempt(current.filter((s) => !('inst' in s) || s.inst !== inst));
  }

  let granularity = 2;
  while (current.length >= 2) {
    const chunk = Math.ceil(current.length / granularity);
    let reduced = false;
    // Later chunks first: the steps just before a failure tend to matter, the early ones less so.
    for (let start = current.length - chunk; start > -chunk; start -= chunk) {
      if (timeUp()) return { steps: current, tries, complete: false };
      const from = Math.max(0, start);
      if (await attempt([...current.slice(0, from), ...current.slice(start + chunk)])) {
        granularity = Math.max(granularity - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunk === 1) break;
    granularity = Math.min(granularity * 2, current.length);
  }
  // Smaller numbers where they do not matter: no clock ticks.
  for (let i = 0; i < current.length && !timeUp(); i++) {
    if (current[i]!.dt === 0) continue;
    await attempt(current.map((s, j) => (j === i ? { ...s, dt: 0 } : s)), true);
  }
  return { steps: current, tries, complete: !timeUp() };
}
