import { describe, expect, it } from 'vitest';
import { formatDuration, formatSize, SyncProgressView } from '../../src/cli/progress.ts';
import type { SyncPhase, SyncProgress } from '../../src/sync/events.ts';

/** A stand-in for stderr: records what was written, and says whether it is a terminal. */
function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, columns: 120, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

/** What a person sees at the end: every `\r` redraw replaces the line, `\n` keeps it. */
function screen(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.split('\r').at(-1)!.replace(/\x1b\[2K/g, ''))
    .filter((line) => line !== '');
}

/**
 * The events of a sync that uploads `files` files of `size` bytes each, in the order and shape the
 * engine sends them; `tick` advances the clock between events.
 */
function uploadEvents(files: number, size: number): SyncProgress[] {
  const event = (phase: SyncPhase, percent: number, done: number, total: number, phaseBytes = 0, phaseTotal = 0): SyncProgress => ({
    phase,
    percent,
    done,
    total,
    bytes: phaseBytes,
    phase_bytes: phaseBytes,
    phase_bytes_total: phaseTotal,
  });
  const events = [event('checking', 0, 0, 1), event('locking', 2, 0, 1), event('metadata', 5, 0, 1), event('planning', 10, 0, 1)];
  events.push(event('downloading', 12, 0, 0), event('applying', 45, 0, 0));
  for (let done = 0; done <= files; done++) {
    events.push(event('uploading', Math.round(50 + (38 * done) / files), done, files, done * size, files * size));
  }
  events.push(event('committing', 88, 0, 1), event('done', 100, 1, 1));
  return events;
}

describe('SyncProgressView', () => {
  it('on a terminal: counts per phase that never pass the total, bytes, speed, ETA, and the true total at the end', () => {
    const out = fakeStream(true);
    let now = 0;
    const view = new SyncProgressView(out, { mode: 'bar', now: () => now });
    for (const event of uploadEvents(137, 1_000_000)) {
      view.update(event);
      now += 100;
    }
    view.finish();
    const frames = out.text().split(/[\r\n]/).map((f) => f.replace(/\x1b\[2K/g, '')).filter(Boolean);
    const counts = frames.flatMap((f) => [...f.matchAll(/(\d+)\/(\d+) files/g)]).map((m) => [Number(m[1]), Number(m[2])]);
    expect(counts.length).toBeGreaterThan(137);
    for (const [done, total] of counts) expect(done).toBeLessThanOrEqual(total!);
    // The bug this replaces: the bar's total was the percentage (100), so 137 files read `137/100`.
    expect(frames.some((f) => f.includes('/100 '))).toBe(false);
    expect(frames).toContain('uploading [==========          ] 68/137 files · 68.0 MB/137.0 MB · 10.0 MB/s · ETA 6.9 s');
    // What stays on screen: one kept line with the phase's true totals, no half-drawn bar.
    expect(screen(out.text())).toEqual(['uploaded 137/137 files · 137.0 MB in 14 s (9.9 MB/s)']);
    // After it, only an erased line (the `committing…` that was there): the cursor sits at column 0.
    expect(out.text().split('\n').at(-1)!.split('\r').at(-1)).toBe('\x1b[2K');
  });

  it('on a pipe: plain lines (no carriage returns), one every interval, the last with the true total', () => {
    const out = fakeStream(false);
    let now = 0;
    const view = new SyncProgressView(out, { mode: 'lines', now: () => now, lineIntervalMs: 5000 });
    for (const event of uploadEvents(100, 2000)) {
      view.update(event);
      now += 250;
    }
    view.finish();
    expect(out.text()).not.toMatch(/[\r\x1b]/);
    const lines = out.text().trimEnd().split('\n');
    // 100 uploads over 25 s: a line every 5 s, then the total.
    expect(lines.slice(0, -1).every((l) => /^uploading \[[= ]+\] \d+\/100 files · /.test(l))).toBe(true);
    expect(lines.length).toBe(5);
    expect(lines.at(-1)).toBe('uploaded 100/100 files · 200.0 kB in 25 s (7.9 kB/s)');
  });

  it('messages keep their own line, and the bar comes back under them', () => {
    const out = fakeStream(true);
    const view = new SyncProgressView(out, { mode: 'bar', now: () => 0 });
    const [, , , , , , first] = uploadEvents(3, 10);
    view.update(first!);
    view.note('Upload of a.pdf failed: the server answered 507');
    expect(out.text().endsWith('uploading [                    ] 0/3 files · 0 B/30 B')).toBe(true);
    expect(screen(out.text())[0]).toBe('Upload of a.pdf failed: the server answered 507');
    view.finish();
    expect(screen(out.text())).toEqual(['Upload of a.pdf failed: the server answered 507', 'uploaded 0/3 files · 0 B in 0.0 s']);
  });

  it('formats sizes and durations as people read them', () => {
    expect([formatSize(999), formatSize(1000), formatSize(12_345_678), formatSize(3e12)]).toEqual(['999 B', '1.0 kB', '12.3 MB', '3.0 TB']);
    expect([formatDuration(0.25), formatDuration(42.4), formatDuration(600), formatDuration(Number.POSITIVE_INFINITY)]).toEqual([
      '0.3 s',
      '42 s',
      '10 min',
      '?',
    ]);
  });
});
