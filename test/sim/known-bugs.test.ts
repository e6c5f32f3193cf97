import { describe, expect, it } from 'vitest';
import type { RemoteOperation } from '../../src/remote/faults.ts';
import { DEFAULT_OPTIONS, runSteps, type SimOptions } from '../../sim/run.ts';
import type { EventRef, FaultKind, FaultTarget, Step } from '../../sim/steps.ts';

/**
 * Bugs in docsync found by the simulation (sim/), each as the shortest step list that shows it,
 * replayed in the simulated world (then its end phase and final checks).
 *
 * Every bug found so far is fixed; each test asserts that the invariants hold on its steps (and,
 * where the bug needs one, that the fault it needs really happened). A new open bug goes in as
 * `it.fails` with its shortest step list, and `KNOWN_BUG_AVOIDANCE` in sim/run.ts steers the CI run
 * clear of it until it is fixed.
 *
 * Instances are a, b, c. Pause and crash points are event names: `checkpoint …`, or an operation and
 * the class of its remote path (`put version.txt` is the switch, `put metadata` a snapshot or delta upload,
 * `mkdir lock-claim` a takeover claim); `#2` is the second such event (a retry).
 */
const A = 0;
const B = 1;
const C = 2;
const create = (inst: number, name = 1, size = 40): Step => ({ dt: 1000, kind: 'create', inst, name, size, bytes: 7 + inst, dup: null });
const sync = (inst: number): Step => ({ dt: 1000, kind: 'sync', inst, force: false });
const park = (inst: number, at: EventRef, frozen: boolean): Step => ({ dt: 0, kind: 'syncPark', inst, at, frozen });
const crash = (inst: number, at: EventRef, after: boolean): Step => ({ dt: 0, kind: 'crash', inst, at, after });
const fault = (kind: FaultKind, op: RemoteOperation, target: FaultTarget, times = 1): Step => ({ dt: 0, kind: 'fault', fault: kind, op, target, times, ms: 0 });
const pastLockTtl: Step = { dt: 0, kind: 'clock', ms: 0, pastTtl: true };

async function run(steps: Step[], options: Partial<SimOptions> = {}, seed = 1) {
  return runSteps(seed, steps, { ...DEFAULT_OPTIONS, ...options });
}

describe('bugs 3, 7, 9 and 10, fixed (regression tests)', () => {
  // Bug 3 (invariant 4). A sync whose process freezes (laptop asleep, SIGSTOP, VM paused) after its
  // last checks and before its version switch switched version.txt after its lock expired and another
  // instance took it over. Fixed: the switch is conditional where the server honours it — If-Match
  // with the ETag of the version.txt just checked (src/remote/remote-metadata.ts, `switchTo`) — so the
  // late write fails with 412 and the frozen sync gives up.
  const bug3 = [create(A), sync(A), sync(B), create(B, 2), park(B, 'put version.txt', true), pastLockTtl, create(A, 3), sync(A)];
  it('bug 3: a sync frozen right before its version switch does not switch under another holder', async () => {
    const result = await run(bug3);
    expect(result.violations).toEqual([]);
    expect(result.stats.tolerated).toEqual({});
  });

  // Bug 3b: the same on a new remote replaced the repository the other instance had just created (a
  // new repo id); that instance then refused every sync. Fixed: the first switch is `If-None-Match: *`.
  it('bug 3b: on a new remote, the frozen first sync does not replace the repository', async () => {
    const result = await run([create(B), park(B, 'put version.txt', true), create(A, 2), sync(A)]);
    expect(result.violations).toEqual([]);
    expect(result.stats.tolerated).toEqual({});
  });

  // Bug 3c: the same through a retry. The switch PUT took effect but its answer was lost; RetryingRemote
  // sent it again after a backoff, frozen meanwhile: another instance took the lock and committed
  // version n+1, and the retry wrote version n back — the remote went back a version and the other
  // instance refused every later sync. Fixed: the retry is conditional too, and looks first
  // (`beforeRetry`: done if version.txt already names this commit, given up if it names another).
  it('bug 3c: a retried version switch does not land after a takeover', async () => {
    const result = await run([
      create(C),
      sync(C),
      fault('lostResponse', 'put', 'version'),
      { dt: 0, kind: 'editContent', inst: C, pick: 0, size: 50, bytes: 3 },
      create(B, 2),
      park(C, 'put version.txt#2', true),
      sync(B),
    ]);
    expect(result.violations).toEqual([]);
    expect(result.stats.tolerated).toEqual({});
  });

  // Where the server ignores If-Match (nginx, rclone), the switch cannot be made conditional: the
  // freeze still lands it (a window of one request). The damage is repaired: the commit it replaced is
  // re-queued by its author, and every instance that had pulled it (bug 7) re-bases on the remote.
  it('bug 3 on a server that ignores If-Match: the late switch lands, and nothing is lost', async () => {
    const result = await run(bug3, { server: 'unconditional' });
    expect(result.stats.tolerated['4']).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
  });

  // Bug 7 (invariant 1: divergence). Lost-commit recovery only helped the instance whose commit was
  // lost. An instance that had pulled the lost commit saw version.txt at the same version with another
  // commit id, but planned with `changedSince(lastSeen)` and compared version numbers only: it neither
  // pulled the replacing commit's rows nor noticed that its `synced` rows no longer matched the remote.
  // Fixed: every instance keeps the heads it saw; one that is gone from the remote's recent commits
  // means the history was rewritten, and the rows based on it are compared with the remote
  // (src/sync/engine.ts, `repairRewrittenHistory`). Reproduced where the switch cannot be conditional.
  it('bug 7: an instance that pulled a commit later lost re-bases on the remote and converges', async () => {
    const result = await run(
      [
        create(B),
        sync(B),
        { dt: 0, kind: 'editMeta', inst: B, pick: 0, variant: 1 },
        sync(A),
        { dt: 0, kind: 'editMeta', inst: A, pick: 0, variant: 2 },
        park(B, 'put version.txt', true),
        pastLockTtl,
        sync(A),
        sync(C),
      ],
      { server: 'unconditional' },
    );
    expect(result.stats.tolerated['4']).toBeGreaterThan(0); // the lost commit happened
    expect(result.violations).toEqual([]);
  });

  // Bug 7b (invariant 3). Same cause, other damage: that instance deleted a file that only the lost
  // commit had; its next sync found no remote row and dropped the deletion as "a tombstone of a file
  // the remote never had"; the committer then re-queued its lost rows and the file came back
  // everywhere. Fixed: a tombstone of a file that was synced (it has a base) and that the remote lacks
  // is published (src/sync/planner.ts).
  it('bug 7b: a deletion of a file from a lost commit is kept, the file does not come back', async () => {
    const result = await run(
      [create(A, 3), sync(A), create(B), park(B, 'put version.txt', true), pastLockTtl, create(C, 2), sync(C), sync(A), { dt: 0, kind: 'delete', inst: A, pick: 0 }],
      { server: 'unconditional' },
    );
    expect(result.stats.tolerated['4']).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
  });

  // Bug 9 (no invariant broken; a conflict nobody made). A sync killed after its version switch and
  // before its bookkeeping left its pushed rows `modified` on the old base; another instance pulled
  // them and edited on top, and the restarted instance met a conflict between its own version and a
  // descendant of it. Fixed: the commit and a fingerprint of each row are recorded before the switch;
  // the next sync finds the commit in the remote's history and settles the untouched rows
  // (src/sync/engine.ts, `settleLastCommit`).
  it('bug 9: a sync killed right after its commit leaves no spurious conflict behind', async () => {
    const result = await run([
      create(C),
      crash(C, 'checkpoint after_commit', false),
      sync(A),
      { dt: 0, kind: 'editMeta', inst: A, pick: 0, variant: 1 },
      sync(A),
    ]);
    expect(result.violations).toEqual([]);
    expect(result.stats.crashes).toBe(1);
    expect(result.stats.spuriousSamples).toEqual([]);
  });

  // Bug 10 (no invariant broken; a duplicate). `keep_both` made the conflict copy before it fetched the
  // remote side's content; when that download failed (503 past the retries) the resolution failed but
  // the copy stayed, and the conflict too. Resolving again — what a person does — made a second,
  // identical copy on every instance. Fixed: the remote side is fetched first (conflict-resolver.ts).
  it('bug 10: a keep_both that fails to fetch the remote side leaves a copy; the retry makes another', async () => {
    const copies: string[] = [];
    const result = await run(
      [
        create(A),
        sync(A),
        sync(B),
        { dt: 0, kind: 'editContent', inst: A, pick: 0, size: 60, bytes: 1 },
        { dt: 0, kind: 'editContent', inst: B, pick: 0, size: 70, bytes: 2 },
        sync(A),
        sync(B), // b: modified_both
        fault('503', 'get', 'blob', 6), // every try of the download fails
        { dt: 0, kind: 'resolve', inst: B, pick: 0, resolution: 'keep_both' },
        { dt: 0, kind: 'resolve', inst: B, pick: 0, resolution: 'keep_both' },
      ],
      {
        extraCheck: (world) => {
          for (const f of world.instances[A]!.docsync.files.list({ limit: 100 }).files) if (f.filename.includes('conflict copy')) copies.push(f.stable_id);
          return [];
        },
      },
    );
    expect(result.violations).toEqual([]);
    expect(copies).toHaveLength(1);
  });
});

describe('bugs 1-8 found by the simulation, fixed (regression tests)', () => {
  // Bug 1, fixed in 2b372e3: a blob PUT acknowledged and lost was committed anyway; no one uploaded it
  // again (a row naming it counted as "on the remote") and every other instance failed that download.
  it('bug 1: a lost blob write is noticed and retried', async () => {
    expect((await run([fault('lostWrite', 'put', 'blob'), create(B), sync(B)])).violations).toEqual([]);
  });

  // Bug 2, fixed in 2b372e3: a lost snapshot PUT left version.txt naming a missing snapshot, and every
  // sync of every instance failed from then on.
  it('bug 2: a lost snapshot write never becomes the current version', async () => {
    const result = await run([fault('lostWrite', 'put', 'metadata'), create(B), sync(B)]);
    expect(result.violations).toEqual([]);
    // The fault met a format-2 upload (journal/ or snapshots/: the 'metadata' target covers both).
    expect(result.stats.faultsFired.lostWrite).toBe(1);
  });

  // Bug 3 as first found, narrowed in 2b372e3: frozen at the before_version_switch checkpoint (before
  // the new re-check), the sync now gives up instead of switching.
  it('bug 3 (first form): a sync frozen before the final lock check does not switch', async () => {
    expect((await run([create(A), sync(A), sync(B), create(B, 2), park(B, 'checkpoint before_version_switch', true), create(A, 3), sync(A)])).violations).toEqual([]);
  });

  // Bug 4, fixed in 2b372e3: within one sync, a pull that replaced a file's content freed the old blob
  // although another pulled row of that sync (same content) needed it; the row ended synced without
  // content. The order of the two pulls (by stable_id) matters, hence seed 112's ids.
  it('bug 4: a pull does not free a blob another row pulled in the same sync needs', async () => {
    const steps: Step[] = [
      sync(C),
      { dt: 0, kind: 'create', inst: C, name: 6, size: 300, bytes: 736762142, dup: null },
      sync(C),
      sync(A),
      sync(B),
      { dt: 0, kind: 'editContent', inst: B, pick: 0, size: 237, bytes: 1176479937 },
      { dt: 0, kind: 'create', inst: C, name: 6, size: 135, bytes: 2119475682, dup: 0 }, // the first file's content
      sync(C),
      sync(B),
    ];
    expect((await run(steps, {}, 112)).violations).toEqual([]);
  });

  // Bug 5, fixed in 2b372e3: a takeover claim left by a taker that died blocked every later takeover of
  // that stale lock (the owner's own reclaim included): every sync failed with lock_held, forever.
  it('bug 5: a takeover claim left by a crash does not block the stale lock for good', async () => {
    const steps = [create(B), create(A, 2), crash(B, 'checkpoint after_lock', false), pastLockTtl, crash(A, 'mkdir lock-claim', true)];
    expect((await run(steps)).violations).toEqual([]);
  });

  // Bug 6, fixed in 2b372e3: two torn reads of owner.json made a live, renewed lock look ownerless, and
  // an ownerless lock was judged by its folder's age, which renewals never change: taken over.
  it('bug 6: torn reads of the owner file do not let another instance take over a live lock', async () => {
    const steps = [
      create(A),
      sync(A),
      sync(C),
      create(C, 2),
      park(C, 'checkpoint before_version_switch', false),
      pastLockTtl,
      create(A, 3),
      fault('truncate', 'getBytes', 'lock', 2),
      sync(A),
    ];
    expect((await run(steps)).violations).toEqual([]);
  });

  // Bug 8 (invariant 4), no frozen process and no fault needed: a takeover judged on an owner record
  // read before a delay. A waiting instance reads owner.json (src/remote/lock.ts:109), then asks the
  // server's time (lock.ts:141); if that answer is slow — longer than the lease had left, at most 40 s
  // with the default 60 s TTL renewed every 20 s — the old expiry looks past (lock.ts:142), and the
  // re-check before deleting compares only the nonce (lock.ts:186), which renewals keep. The live,
  // renewed lock is deleted and taken over; its holder then switches version.txt under the new holder.
  // Fixed: `stillStale` judges the re-read owner's expiry again on a fresh server time.
  // (Found by `npm run sim:long`, seed 385478835, shrunk to 8 steps.)
  it('bug 8: a slow server-time answer does not let a waiter take over a live, renewed lock', async () => {
    const steps: Step[] = [
      create(B),
      sync(B),
      sync(A),
      create(B, 2),
      park(B, 'put version.txt', false), // b holds the lock, alive: it keeps it renewed
      create(A, 3),
      park(A, 'serverTime root', false), // a read b's owner record and waits for the server's time
      pastLockTtl, // the end phase resumes a first, then b
    ];
    expect((await run(steps)).violations).toEqual([]);
  });

  // Bug 11 (invariant 1). On a server that ignores preconditions and whose MKCOL is not atomic (the
  // rclone model), c froze holding a sync while a and b committed two versions; c's late switch then
  // landed version n+1 over n+2, and a and b, having seen n+2, called the remote "went back" (an older
  // copy put back) and refused every sync. Fixed: a lower version whose head this instance never saw,
  // built on history it shares, is a late switch, and the rewritten-history repair takes it from there
  // (src/sync/engine.ts `lateSwitchExplains`). (Found by `npm run sim:long -- --server nonatomic`,
  // seed 201886275, shrunk to 17 steps.)
  it('bug 11: a late switch that takes the remote back a version is repaired, not refused', async () => {
    const steps = [
      { dt: 0, kind: 'create', inst: A, name: 774415, size: 86, bytes: 255117308, dup: null },
      { dt: 0, kind: 'create', inst: A, name: 874793, size: 263, bytes: 432365042, dup: null },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'editContent', inst: B, pick: 0.6189776577521116, size: 200, bytes: 1546276000 },
      { dt: 0, kind: 'create', inst: C, name: 637304, size: 381, bytes: 1976439190, dup: null },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'create', inst: A, name: 468927, size: 360, bytes: 1701820614, dup: null },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'editMeta', inst: B, pick: 0.2135118544101715, variant: 1223590059 },
      { dt: 0, kind: 'delete', inst: A, pick: 0.589816671796143 },
      { dt: 0, kind: 'fault', fault: '503', op: 'all', target: 'any', times: 5, ms: 0 },
      { dt: 0, kind: 'syncPark', inst: C, at: 32, frozen: true },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'sync', inst: A, force: false },
    ] as Step[];
    const result = await run(steps, { server: 'nonatomic' }, 201886275);
    expect(result.violations).toEqual([]);
  });
});

describe('bugs found on format 2 with compaction, GC and restores, fixed (regression tests)', () => {
  // Bug 12 (invariants 5 and 1). b deleted a file and, its GC window over, collected its blob; a,
  // which had not synced since, edited the file's metadata, met the deletion as a deleted_remote
  // conflict and resolved it local_wins: its push over the tombstone was planned metadata-only (same
  // hash as its base), so it committed a live row naming a blob the GC had taken, which no instance
  // could download. Fixed: a push over a tombstone sends the content (src/sync/planner.ts), and the
  // upload is skipped only where a live row names the blob. (Seed 15, shrunk to 16 steps.)
  it('bug 12: reviving a file over an old tombstone sends its blob again', async () => {
    const steps = [
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'create', inst: C, name: 718033, size: 26846, bytes: 1116645808, dup: null },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'create', inst: B, name: 469098, size: 2, bytes: 1586014159, dup: null },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'delete', inst: B, pick: 0.9636558301281184 },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'delete', inst: B, pick: 0.39884195080958307 },
      { dt: 0, kind: 'clock', ms: 0, pastTtl: true },
      { dt: 0, kind: 'syncPark', inst: B, at: 10, frozen: false },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'syncPark', inst: B, at: 29, frozen: true },
      { dt: 0, kind: 'editMeta', inst: A, pick: 0.763386266073212, variant: 383723645 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'resolve', inst: A, pick: 0.36326267872937024, resolution: 'local_wins' },
    ] as Step[];
    const result = await run(steps, {}, 15);
    expect(result.violations).toEqual([]);
    expect(result.stats.gc.blobs).toBeGreaterThan(0);
    expect(result.stats.resolutions.local_wins).toBe(1);
  });

  // Bug 13 (invariant 1). b and c restored the same trashed file from their histories: the same
  // state, different updated_at. c's sync found the remote row equal to its own (mark_synced) and kept
  // its timestamps: the instances disagreed on updated_at for good. Fixed: a live row marked synced
  // on an equal remote row takes the remote's timestamps (src/sync/engine.ts). (Seed 2, 12 steps.)
  it('bug 13: two restores of one trashed file converge on the remote timestamps', async () => {
    const steps = [
      { dt: 0, kind: 'create', inst: C, name: 585689, size: 27674, bytes: 1566449437, dup: null },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'create', inst: A, name: 935627, size: 347, bytes: 1518289754, dup: null },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'create', inst: A, name: 171333, size: 167, bytes: 1546585288, dup: 0.6698801638558507 },
      { dt: 0, kind: 'delete', inst: A, pick: 0.508800158277154 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'sync', inst: C, force: true },
      { dt: 0, kind: 'restore', inst: C, pick: 0.46497078984975815, version: 0.4632067799102515, trash: true },
      { dt: 68351, kind: 'restore', inst: B, pick: 0.5288725318387151, version: 0.11622044793330133, trash: true },
    ] as Step[];
    const result = await run(steps, {}, 2);
    expect(result.violations).toEqual([]);
    expect(result.stats.restores.trash).toBe(2);
  });

  // Bug 14 (invariant 6, then 5). a's sync froze in its remote GC, after listing a shard (laptop
  // asleep); its lock expired, c took it and committed rows naming a blob c had uploaded in an
  // earlier, failed sync (older than the grace period). a woke and deleted that blob: judged by its
  // own, older snapshot it was unreferenced. Fixed: the GC reads the lock's owner file before each
  // batch of deletions and stops when the lock is no longer its own (src/sync/remote-gc.ts
  // `stillHolding`). Left: a freeze between that read and the DELETE itself (one request; the same
  // window as a version switch on a server without preconditions). (Seed 8, shrunk to 20 steps.)
  it('bug 14: a GC that lost its lock while frozen deletes nothing more', async () => {
    const steps = [
      { dt: 0, kind: 'create', inst: A, name: 310147, size: 28478, bytes: 102878049, dup: null },
      { dt: 0, kind: 'create', inst: C, name: 546871, size: 72, bytes: 870557838, dup: 0.1071564257144928 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'delete', inst: C, pick: 0.9365437505766749 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'editMeta', inst: A, pick: 0.2886990935076028, variant: 1388992686 },
      { dt: 0, kind: 'crash', inst: C, at: 1, after: true },
      { dt: 0, kind: 'fault', fault: 'lostWrite', op: 'put', target: 'any', times: 9, ms: 0 },
      { dt: 0, kind: 'syncPark', inst: A, at: 32, frozen: false },
      { dt: 0, kind: 'fault', fault: '423', op: 'put', target: 'version', times: 8, ms: 0 },
      { dt: 0, kind: 'create', inst: C, name: 185390, size: 118, bytes: 480791205, dup: null },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'editContent', inst: C, pick: 0.7285737867932767, size: 24, bytes: 624234014 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'create', inst: C, name: 682742, size: 313, bytes: 672752734, dup: null },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'syncPark', inst: A, at: 28, frozen: true },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'crash', inst: C, at: 34, after: true },
      { dt: 0, kind: 'delete', inst: C, pick: 0.8745977829676121 },
    ] as Step[];
    const result = await run(steps, {}, 8);
    expect(result.violations).toEqual([]);
  });
  // Bug 15 (invariant 6). a's first sync was killed while it read the journals before its snapshot
  // (for its history): the caught-up state was already in place, its versions never recorded, and
  // its history start still that of an earlier, aborted sync. The next sync found the state current,
  // believed its history complete over the window, and its GC deleted the blob of a version b and c
  // still list inside the window. Fixed: a catch-up is marked until its versions are recorded; a
  // sync that finds the mark starts the history afresh (src/sync/engine.ts, `historyCatchingUp`).
  // (Seed 88, shrunk to 15 steps.)
  it('bug 15: a catch-up killed before its history was recorded does not let the GC run on a gap', async () => {
    const steps = [
      { dt: 0, kind: 'create', inst: A, name: 981250, size: 113, bytes: 1819486368, dup: 0.9983176188543439 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'crash', inst: A, at: 35, after: true },
      { dt: 0, kind: 'create', inst: C, name: 842593, size: 201, bytes: 1940641707, dup: null },
      { dt: 0, kind: 'create', inst: B, name: 371850, size: 190, bytes: 2037571470, dup: null },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'editMeta', inst: C, pick: 0.30444195005111396, variant: 1493464325 },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'editContent', inst: B, pick: 0.7706769981887192, size: 309, bytes: 679158451 },
      { dt: 0, kind: 'syncPark', inst: C, at: 20, frozen: false },
      { dt: 0, kind: 'syncPark', inst: B, at: 4, frozen: false },
      { dt: 0, kind: 'create', inst: C, name: 407397, size: 279, bytes: 1186983464, dup: null },
      { dt: 0, kind: 'resume', pick: 0.6619875435717404 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'crash', inst: A, at: 11, after: false },
    ] as Step[];
    const result = await run(steps, {}, 88);
    expect(result.violations).toEqual([]);
    expect(result.stats.crashes).toBeGreaterThan(0);
  });
  // Bug 16 (invariant 5; unconditional and nonatomic servers). A late switch named a blob another
  // holder's GC had just deleted. b uploaded its new file's blob, then stopped right before its
  // version switch (here: parked, live, and its lock renewal met a 412, so its lock expired); a took
  // the lock over, committed without b's file, and its GC — due, with a whole window of history —
  // found b's blob named by no row it knew of and older than the grace, and deleted it. Then b's
  // switch, which cannot be conditional there, landed: its row named the deleted blob, and nobody
  // could download it for good (b held the content, synced, and never looked again). Not the
  // non-exclusive MKCOL: the takeover was of an expired lock, and the same happens on `unconditional`
  // (second test). Fixed: where the switch can land late, a sync reads its lock once its switch is
  // done and, if the lock is no longer its own, puts back from its local store the blobs its commit
  // names that are missing (src/sync/late-switch.ts); killed before that look, the commit stays
  // marked and its next sync looks. The simulation judges such blobs at the end of that instance's
  // sync, not at the switch (`World.settleLateBlobs`). (Seed 5072 of the long run on `nonatomic`,
  // shrunk to 10 steps. B's second park was at call 22 while a PUT into a new shard folder cost a
  // refused PUT and a MKCOL first; since every shard folder is made by the first push, the same
  // point, its version switch, is call 20.)
  it('bug 16: a late switch on a nonatomic server puts back the blob another holder collected meanwhile', async () => {
    const steps = [
      { dt: 0, kind: 'sync', inst: A, force: true },
      { dt: 0, kind: 'create', inst: A, name: 16909, size: 12152, bytes: 2034633567, dup: null },
      { dt: 0, kind: 'syncPark', inst: B, at: 34, frozen: false },
      { dt: 0, kind: 'create', inst: C, name: 438820, size: 233, bytes: 2091094202, dup: null },
      { dt: 0, kind: 'create', inst: B, name: 619702, size: 42233, bytes: 1845723257, dup: 0.5590488566085696 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'syncPark', inst: B, at: 20, frozen: false },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'fault', fault: '412', op: 'put', target: 'any', times: 1, ms: 0 },
      { dt: 0, kind: 'syncPark', inst: A, at: 5, frozen: false },
    ] as Step[];
    const result = await run(steps, { server: 'nonatomic' }, 5072);
    expect(result.violations).toEqual([]);
    expect(result.stats.tolerated['4']).toBeGreaterThan(0); // the late switch happened
    expect(result.stats.gc.blobs).toBeGreaterThan(0); // and the GC before it took the blob
  });

  it('bug 16 on an unconditional server: a frozen sync\'s late switch, after a GC took its blob', async () => {
    const steps = [
      create(A, 3),
      sync(A),
      sync(B),
      { dt: 0, kind: 'clock', ms: 1_300_000, pastTtl: false }, // a whole history window: a's GC may run
      create(B),
      park(B, 'put version.txt', true),
      pastLockTtl,
      create(A, 2),
      sync(A),
    ] as Step[];
    const result = await run(steps, { server: 'unconditional', faults: [] });
    expect(result.stats.tolerated['4']).toBeGreaterThan(0);
    expect(result.stats.gc.blobs).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
  });

  // Bug 16b, the same race the other way round: the late switch lands while a's GC runs (a parked,
  // live, at its first shard listing). b looks right after its switch and finds its blob still there;
  // a's GC then reached b's shard and deleted the blob by the head it had judged from. Fixed: before
  // each batch of deletions the GC also checks that version.txt still names its head (where a switch
  // can land late), and stops. (A DELETE already on its way while the switch and the look happen
  // remains possible.)
  it('bug 16b: a late switch landing while a GC runs stops that GC before it takes the blob', async () => {
    const steps = [
      create(A, 3),
      sync(A),
      sync(B),
      { dt: 0, kind: 'clock', ms: 1_300_000, pastTtl: false },
      create(B),
      park(B, 'put version.txt', true),
      pastLockTtl,
      create(A, 2),
      park(A, 'list blob', false),
      sync(B),
    ] as Step[];
    const result = await run(steps, { server: 'unconditional', faults: [] });
    expect(result.stats.tolerated['4']).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
  });
});

describe('bugs 17 and 18, a late switch after the next holder collected what it names, fixed (regression tests)', () => {
  // Bug 17 (invariant 1, `unconditional`). B freezes right before its version switch (a compaction:
  // delta and snapshot of version 9 uploaded); its lock expires, A takes it over, commits its own
  // version 9 and runs the GC. B's snapshot 9, old by then and in no chain, becomes the GC's `base`, so
  // B's delta 9 is "at or before the oldest kept snapshot" and is deleted. B's frozen switch then
  // lands and names that delta; a 412 on its read-back ends B's sync before any look (bug 16 puts
  // back blobs, and only from a sync that gets that far), and every reader fails with "version.txt
  // names journal/000009-…, which is missing" for good. Fixed in the GC (src/sync/remote-gc.ts): a
  // snapshot or journal of the head's version or newer that version.txt does not name is never the
  // base and never deleted (a late switch may still name it); the next head lets it age out. Reached
  // by CI seed 1016 on `unconditional`
  // once a push stopped paying a refused PUT and a MKCOL per new shard folder (its calls moved, so
  // the seed's park landed on the switch); the code at fault (GC, late switch) is older.
  // Replay: npm run sim -- --seed 1016 --avoid-known-bugs --server unconditional
  it('bug 17: a late switch names the delta the next holder\'s GC deleted meanwhile', async () => {
    const steps = [
      { dt: 0, kind: 'sync', inst: A, force: true },
      { dt: 0, kind: 'fault', fault: 'lostWrite', op: 'put', target: 'blob', times: 1, ms: 0 },
      { dt: 0, kind: 'create', inst: A, name: 259545, size: 49785, bytes: 1308590706, dup: null },
      { dt: 0, kind: 'create', inst: B, name: 857690, size: 52621, bytes: 1136458698, dup: null },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'crash', inst: B, at: 27, after: false },
      { dt: 0, kind: 'create', inst: A, name: 424135, size: 170, bytes: 1379849092, dup: null },
      { dt: 0, kind: 'editContent', inst: B, pick: 0.053069581277668476, size: 332, bytes: 87943963 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'editMeta', inst: A, pick: 0.7042119854595512, variant: 269145629 },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'create', inst: B, name: 674299, size: 227, bytes: 1359602551, dup: null },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'fault', fault: 'delay', op: 'getBytes', target: 'lock', times: 3, ms: 356095 },
      { dt: 0, kind: 'create', inst: B, name: 74885, size: 39, bytes: 1413593030, dup: null },
      { dt: 0, kind: 'editContent', inst: A, pick: 0.8164975845720619, size: 63795, bytes: 561955899 },
      { dt: 0, kind: 'editContent', inst: B, pick: 0.2779941912740469, size: 139, bytes: 985921462 },
      { dt: 0, kind: 'create', inst: B, name: 121049, size: 47, bytes: 2032240814, dup: null },
      park(B, 'put version.txt', true),
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'fault', fault: '412', op: 'getBytes', target: 'any', times: 7, ms: 0 },
    ] as Step[];
    const result = await run(steps, { server: 'unconditional' }, 1016);
    expect(result.violations).toEqual([]);
  });

  // Bug 18 (invariant 5, `nonatomic`). As bug 17, but what the GC took is a blob of B's commit, and
  // while B was frozen its user edited that file: the local store released the old content, so B's
  // look after its late switch (bug 16's fix) has nothing to put back, and a live row names a blob
  // that exists nowhere. CI seed 1016 on `nonatomic`, reached the same way as bug 17. Fixed in the
  // local store: an edit does not release a blob a sync uploaded for a commit not known to have
  // landed yet (`uploaded_blob:` in the sync state, `FileServiceDeps.uploadedUncommitted`); the sync
  // releases it once its commit is settled and its look after the switch is done.
  // Replay: npm run sim -- --seed 1016 --avoid-known-bugs --server nonatomic
  it('bug 18: a late switch names a blob the GC took and its author\'s own edit released locally', async () => {
    const steps = [
      { dt: 0, kind: 'sync', inst: A, force: true },
      { dt: 1653, kind: 'fault', fault: 'lostWrite', op: 'put', target: 'blob', times: 1, ms: 0 },
      { dt: 1370, kind: 'create', inst: C, name: 315968, size: 20, bytes: 540797717, dup: null },
      { dt: 1216, kind: 'crash', inst: B, at: 30, after: false },
      { dt: 1044, kind: 'create', inst: A, name: 259545, size: 49785, bytes: 1308590706, dup: null },
      { dt: 1284, kind: 'clock', ms: 290397, pastTtl: false },
      { dt: 13893, kind: 'sync', inst: B, force: false },
      { dt: 532, kind: 'fault', fault: 'delay', op: 'all', target: 'version', times: 8, ms: 9038 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 833, kind: 'editMeta', inst: A, pick: 0.6492518947925419, variant: 396700471 },
      { dt: 671, kind: 'create', inst: B, name: 857690, size: 52621, bytes: 1136458698, dup: null },
      { dt: 1592, kind: 'sync', inst: C, force: false },
      { dt: 1680, kind: 'sync', inst: B, force: false },
      { dt: 1100, kind: 'fault', fault: '423', op: 'put', target: 'metadata', times: 1, ms: 0 },
      { dt: 95448, kind: 'sync', inst: C, force: false },
      { dt: 99262, kind: 'fault', fault: '500', op: 'stat', target: 'any', times: 1, ms: 0 },
      { dt: 0, kind: 'editContent', inst: B, pick: 0.2779941912740469, size: 139, bytes: 985921462 },
      { dt: 9894, kind: 'create', inst: B, name: 121049, size: 47, bytes: 2032240814, dup: null },
      park(B, 'put version.txt', true),
      { dt: 1339, kind: 'editContent', inst: B, pick: 0.13561583613045514, size: 122, bytes: 818117954 },
      { dt: 678, kind: 'sync', inst: A, force: true },
    ] as Step[];
    const result = await run(steps, { server: 'nonatomic' }, 1016);
    expect(result.violations).toEqual([]);
  });
});

describe("the simulation's own model (regression tests)", () => {
  // Not a docsync bug: the model missed a deletion that reached the remote. C edited and deleted a
  // file A had deleted and synced; A restored it from the trash (over that tombstone); C's sync
  // found both sides deleted and marked its deletion synced at A's tombstone (agreed deletions
  // merge), then C crashed later in that sync. The model learnt which tombstone a deletion merged
  // into only after a sync that was not killed, so when C next synced, A's restore had come back
  // and C's deletion (and its edit before it) were reported as vanished. Fixed in the simulation:
  // a reopened instance's store is read for what its killed sync committed (`World.open`).
  // Found by `npm run sim -- --seed 7057 --steps 300 --server nonatomic`, shrunk to 20 steps.
  it('a deletion merged into a tombstone by a sync that then crashed is undone by the restore of that tombstone', async () => {
    const steps = [
      { dt: 0, kind: 'create', inst: A, name: 701917, size: 43363, bytes: 2021951714, dup: 0.9291575634852052 },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'create', inst: C, name: 91693, size: 274, bytes: 626819177, dup: null },
      { dt: 0, kind: 'editContent', inst: C, pick: 0.5740145891904831, size: 62, bytes: 1796789351 },
      { dt: 0, kind: 'delete', inst: A, pick: 0.9752883361652493 },
      { dt: 0, kind: 'editContent', inst: C, pick: 0.6435933206230402, size: 43, bytes: 1538133878 },
      { dt: 0, kind: 'sync', inst: C, force: false },
      { dt: 0, kind: 'editContent', inst: C, pick: 0.14435960724949837, size: 313, bytes: 2038840976 },
      { dt: 0, kind: 'create', inst: C, name: 637247, size: 117, bytes: 1378384407, dup: null },
      { dt: 0, kind: 'create', inst: C, name: 994679, size: 165, bytes: 1518737903, dup: null },
      { dt: 0, kind: 'sync', inst: A, force: false },
      { dt: 0, kind: 'create', inst: C, name: 216486, size: 273, bytes: 1637056806, dup: null },
      { dt: 0, kind: 'fault', fault: '412', op: 'delete', target: 'any', times: 7, ms: 0 },
      { dt: 0, kind: 'sync', inst: B, force: false },
      { dt: 0, kind: 'delete', inst: C, pick: 0.57710025110282 },
      { dt: 0, kind: 'restore', inst: A, pick: 0.6682070763781667, version: 0.43826150870881975, trash: true },
      { dt: 0, kind: 'sync', inst: C, force: true },
      crash(A, 10, true),
      { dt: 0, kind: 'sync', inst: C, force: false },
      crash(C, 22, true),
    ] as Step[];
    const result = await run(steps, { server: 'nonatomic' }, 7057);
    expect(result.stats.restores.trash).toBe(1);
    expect(result.violations).toEqual([]);
  });
});
