import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the plain closing line CI reads: `N passed, N failed[, N skipped]`.
 * A test file that fails to load has no test cases; it counts as one failure so it cannot pass silently.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of modules) {
      let cases = 0;
      for (const test of module.children.allTests()) {
        cases++;
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (cases === 0 && module.state() === 'failed') failed++;
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    // Printed at exit so it comes after vitest's own summary: CI reads the last line.
    process.once('exit', () => process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`));
  }
}
