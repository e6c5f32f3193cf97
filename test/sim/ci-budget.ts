import { expect } from 'vitest';
import { DEFAULT_OPTIONS, KNOWN_BUG_AVOIDANCE, runSeed, type SimOptions } from '../../sim/run.ts';

/**
 * The CI budget of the simulation: 200 seeds × 200 steps in the configuration that steers clear of
 * the open bugs (`KNOWN_BUG_AVOIDANCE`, each reproduced in known-bugs.test.ts). Measured on the
 * 2-core build machine (vitest runs one test file at a time there): 0.6-0.7 s per seed, 130-140 s for
 * the 200. `DOCSYNC_SIM_SEEDS` scales it.
 */
export const CI_SEEDS = Number(process.env.DOCSYNC_SIM_SEEDS ?? 200);
export const CI_STEPS = 200;
export const CI_OPTIONS: SimOptions = { ...DEFAULT_OPTIONS, ...KNOWN_BUG_AVOIDANCE, steps: CI_STEPS };
export const CI_TIMEOUT_MS = 300_000;

/** Runs seeds `from`..`to` (inclusive) and asserts that every invariant held in each. */
export async function expectSeedsPass(from: number, to: number): Promise<void> {
  const failures: string[] = [];
  let syncs = 0;
  let crashes = 0;
  let conflicts = 0;
  for (let seed = from; seed <= to; seed++) {
    const result = await runSeed(seed, CI_OPTIONS);
    syncs += result.stats.syncs.ok;
    crashes += result.stats.crashes;
    conflicts += result.stats.conflicts;
    if (!result.ok) {
      const first = result.violations[0]!;
      failures.push(`seed ${seed}, invariant ${first.invariant}: ${first.message.split('\n')[0]} — npm run sim -- --seed ${seed} --avoid-known-bugs`);
    }
  }
  expect(failures).toEqual([]);
  // The runs did something: syncs that moved data, crashes, conflicts.
  const seeds = to - from + 1;
  expect(syncs).toBeGreaterThan(seeds * 5);
  expect(crashes).toBeGreaterThan(seeds / 2);
  expect(conflicts).toBeGreaterThan(seeds / 10);
}
