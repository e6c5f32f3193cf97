/** What a run did, for the summary (and, minus nothing, for the replay digest). */
export class Stats {
  steps: Record<string, number> = {};
  /** Steps that found nothing to act on (an edit with no live file, a resume with nothing parked). */
  noops: Record<string, number> = {};
  syncs = { started: 0, ok: 0, skipped: 0, failed: 0, killed: 0, parked: 0, resumed: 0 };
  syncFailures: Record<string, number> = {};
  /** Per-file transfer failures reported inside sync summaries (retried by the next sync). */
  transferErrors = 0;
  faultsInjected: Record<string, number> = {};
  faultsFired: Record<string, number> = {};
  conflicts = 0;
  resolutions: Record<string, number> = {};
  resolveFailures = 0;
  /** keep_both that made its copy and then failed to fetch the remote side. */
  partialKeepBoth = 0;
  endResolutions = 0;
  /** Conflicts where one side already contained the other (e.g. a crash between commit and bookkeeping). */
  spuriousConflicts = 0;
  spuriousSamples: string[] = [];
  crashes = 0;
  crashPoints: Record<string, number> = {};
  restarts = 0;
  versionSwitches = 0;
  lockTakeovers = 0;
  ownLockReclaims = 0;
  switchesUnderExpiredLock = 0;
  /** Switches by a sync that had lost its lock, made on the very head they were built on (a valid compare-and-swap). */
  lateSwitchesOnUnchangedHead = 0;
  /** Blobs a late switch named while another holder's GC had deleted them, and that its author put back (bug 16). */
  lateSwitchBlobs = { missing: 0, putBack: 0 };
  /** Lock renewals (the engine's timer, on the world's `ManualClock`: fired by moving the clock). */
  renewals = 0;
  /** Commits that published a new snapshot (format 2: after `maxDeltas` deltas). */
  compactions = 0;
  /** Syncs that caught up by reading deltas only, or that had to read a snapshot. */
  catchUps = { deltas: 0, snapshot: 0 };
  /** Remote GC runs (after a commit, when due) and what they deleted. */
  gc = { runs: 0, blobs: 0, journals: 0, snapshots: 0, errors: 0 };
  /** History restores that worked (`version`, `trash`), and the codes of those that failed cleanly. */
  restores: Record<string, number> = {};
  restoreFailures: Record<string, number> = {};
  /** Runs that started from a format-1 remote (converted by the first sync). */
  format1Starts = 0;
  quiesceRounds = 0;
  /** Leftovers removed by `--workaround` in the end phase. */
  workaroundsApplied = 0;
  /** Violations of tolerated invariants (`--tolerate`). */
  tolerated: Record<string, number> = {};
  toleratedSamples: string[] = [];

  count(kind: string): void {
    this.steps[kind] = (this.steps[kind] ?? 0) + 1;
  }

  noop(kind: string): void {
    this.noops[kind] = (this.noops[kind] ?? 0) + 1;
  }

  forDigest(): unknown {
    return { ...this, spuriousSamples: undefined, toleratedSamples: undefined };
  }

  /** Adds another run's numbers (totals over many seeds). */
  add(other: Stats): void {
    for (const [key, value] of Object.entries(other) as [keyof Stats, unknown][]) {
      const mine = this[key] as unknown;
      if (typeof value === 'number') (this as unknown as Record<string, number>)[key] = (mine as number) + value;
      else if (Array.isArray(value)) (mine as unknown[]).push(...value.slice(0, Math.max(0, 5 - (mine as unknown[]).length)));
      else if (value && typeof value === 'object') {
        const target = mine as Record<string, number>;
        for (const [k, v] of Object.entries(value as Record<string, number>)) target[k] = (target[k] ?? 0) + v;
      }
    }
  }

  format(indent = '  '): string {
    const kv = (record: Record<string, number>): string =>
      Object.entries(record)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-';
    const s = this.syncs;
    const lines = [
      `steps by kind: ${kv(this.steps)}`,
      `steps with nothing to act on: ${kv(this.noops)}`,
      `syncs: ${s.started} started — ${s.ok} ran, ${s.skipped} skipped (nothing to do), ${s.failed} failed, ${s.killed} killed; ${s.parked} parked mid-sync, ${s.resumed} resumed`,
      `sync failures by code: ${kv(this.syncFailures)}; per-file transfer errors inside syncs: ${this.transferErrors}`,
      `faults injected: ${kv(this.faultsInjected)}`,
      `faults fired:    ${kv(this.faultsFired)}`,
      `conflicts detected: ${this.conflicts}; resolved: ${kv(this.resolutions)} (${this.endResolutions} in the end phase); resolutions that failed: ${this.resolveFailures} (keep_both left half-done: ${this.partialKeepBoth}); spurious (one side contained the other): ${this.spuriousConflicts}`,
      `crashes: ${this.crashes}, clean restarts: ${this.restarts}; crash points: ${kv(this.crashPoints)}`,
      `version.txt switches: ${this.versionSwitches} (under an expired lock of the switcher: ${this.switchesUnderExpiredLock}; after the lock was lost, on the unchanged head: ${this.lateSwitchesOnUnchangedHead}); lock takeovers: ${this.lockTakeovers}, own stale locks reclaimed: ${this.ownLockReclaims}; lock renewals: ${this.renewals}`,
      `format 2: compactions ${this.compactions}; catch-ups via deltas ${this.catchUps.deltas}, via a snapshot ${this.catchUps.snapshot}; runs from a format-1 remote: ${this.format1Starts}`,
      `remote GC: ${this.gc.runs} runs, deleted ${this.gc.blobs} blobs, ${this.gc.journals} journals, ${this.gc.snapshots} snapshots; errors ${this.gc.errors}`,
      `blobs a late switch named while missing: ${this.lateSwitchBlobs.missing}, put back by their author: ${this.lateSwitchBlobs.putBack}`,
      `history restores: ${kv(this.restores)}; failed cleanly: ${kv(this.restoreFailures)}`,
      `end phase sync rounds: ${this.quiesceRounds}; workarounds applied: ${this.workaroundsApplied}`,
    ];
    if (Object.keys(this.tolerated).length > 0) {
      lines.push(`tolerated violations by invariant: ${kv(this.tolerated)}`);
      for (const sample of this.toleratedSamples) lines.push(`  e.g. ${sample.split('\n')[0]}`);
    }
    if (this.spuriousSamples.length > 0) lines.push(`spurious conflict samples: ${this.spuriousSamples.join(' | ')}`);
    return lines.map((l) => indent + l).join('\n');
  }
}
