import { describe, expect, it } from 'vitest';
import { loadRemote } from '../../sim/invariants.ts';
import { DEFAULT_OPTIONS, minimize, runSeed, runSteps, signature, stepsFor, type SimOptions } from '../../sim/run.ts';
import { formatStep } from '../../sim/steps.ts';
import { CI_OPTIONS, CI_OTHER_SERVER_SEEDS, CI_SEEDS, CI_STEPS, CI_TIMEOUT_MS, expectSeedsPass } from './ci-budget.ts';

/**
 * The multi-instance simulation (sim/): K docsync instances over one in-memory remote with faults,
 * crashes, overlapping syncs and a manual clock; after every run the invariants of sim/invariants.ts.
 * The CI budget is in ci-budget.ts.
 */
describe('simulation', () => {
  it(`passes every invariant on ${CI_SEEDS} seeds × ${CI_STEPS} steps`, { timeout: CI_TIMEOUT_MS }, async () => {
    await expectSeedsPass(1, CI_SEEDS);
  });

  // Invariant 4 is only counted there: a frozen sync can land its unconditional switch (nginx), or two
  // instances hold the advisory lock (rclone) — and so is 6 (the versions of a rewritten commit stay in
  // the histories that saw them, their blobs free for the GC). What must hold is that no data is lost or revived.
  it.each(['unconditional', 'nonatomic'] as const)(
    `keeps invariants 1-3 and 5 on ${CI_OTHER_SERVER_SEEDS} seeds × ${CI_STEPS} steps on a %s server`,
    { timeout: CI_TIMEOUT_MS },
    async (server) => {
      await expectSeedsPass(1001, 1000 + CI_OTHER_SERVER_SEEDS, { ...CI_OPTIONS, server });
    },
  );

  it('replays a seed identically: same final state digest and the same statistics', async () => {
    const options: SimOptions = { ...DEFAULT_OPTIONS, steps: 120 };
    for (const seed of [3, 17]) {
      const first = await runSeed(seed, options);
      const second = await runSeed(seed, options);
      expect(second.digest).toBe(first.digest);
      expect(JSON.stringify(second.stats)).toBe(JSON.stringify(first.stats));
      expect(second.violations).toEqual(first.violations);
      // The generated steps themselves are a pure function of the seed.
      expect(stepsFor(seed, options)).toEqual(stepsFor(seed, options));
    }
    // A different seed makes a different run.
    expect((await runSeed(4, options)).digest).not.toBe((await runSeed(3, options)).digest);
  });

  it('shrinks a failure of an invariant broken on purpose to its shortest step list', { timeout: 120_000 }, async () => {
    // Artificial invariant: "the remote never holds 3 or more live files". Its shortest
    // counterexample is three creates (the end phase syncs them).
    const options: SimOptions = {
      ...CI_OPTIONS,
      steps: 150,
      extraCheck: (world) => {
        const live = loadRemote(world).rows.filter((r) => !r.deleted).length;
        return live >= 3 ? [{ invariant: 'artificial', step: world.step, message: `${live} live files on the remote` }] : [];
      },
    };
    const seed = 5;
    const failed = await runSeed(seed, options);
    expect(signature(failed.violations)).toBe('artificial');
    const min = await minimize(seed, stepsFor(seed, options), failed, options, 100_000);
    expect(min.complete).toBe(true);
    expect(min.steps.map((s) => s.kind)).toEqual(['create', 'create', 'create']);
    expect(signature(min.result.violations)).toBe('artificial');
    // The shrunk list replays to the same failure, deterministically.
    const again = await runSteps(seed, min.steps, options);
    expect(again.digest).toBe(min.result.digest);
    expect(min.steps.map((s, i) => formatStep(s, i)).join('\n')).toMatch(/create/);
  });
});
