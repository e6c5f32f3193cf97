/**
 * Child process of the `sse` section: docsync's `SseHub` alone on a bare node:http server, no
 * database, no sync, no auth — the floor of the fan-out measurement. Prints its port, then waits
 * for `go <events> <interval ms>` on stdin and publishes that many `syncProgress` events to every
 * connection, one every <interval> ms, then `syncComplete`; then prints, as one JSON line, the median
 * wall and CPU time of one publish (from `publish()` to the flush of the corked responses, which
 * happens in the `nextTick` after it: where the socket writes are).
 * Run as `node --max-semi-space-size=2 --import tsx bench/sse-hub-floor.ts` (the flags of `npm start`).
 */
import http from 'node:http';
import type net from 'node:net';
import { SseHub } from '../src/sse/sse-hub.ts';

const hub = new SseHub({ clock: { now: () => Date.now() }, keepAliveMs: 3_600_000, goneTtlMs: 300_000, bufferSize: 1000, queueLimit: 500 });
const server = http.createServer((req, res) => {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const client = hub.connect(res, 'session');
  req.on('close', () => hub.disconnect(client));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});

process.stdin.setEncoding('utf8');
process.stdin.once('data', (line: string) => {
  const [, events, interval] = line.trim().split(/\s+/).map(Number) as [number, number, number];
  const wall: number[] = [];
  const cpu: number[] = [];
  let k = 0;
  const next = (): void => {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    hub.publish('syncProgress', { phase: 'uploading', percent: 50 + Math.floor((38 * k) / events), done: k + 1, total: events, bytes: (k + 1) * 1024 }, 'session');
    process.nextTick(() => {
      wall.push(performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu.push((used.user + used.system) / 1000);
      if (++k < events) {
        setTimeout(next, interval);
        return;
      }
      hub.publish('syncComplete', { skipped: false }, 'session');
      process.stdout.write(`${JSON.stringify({ wallMs: median(wall), cpuMs: median(cpu) })}\n`);
    });
  };
  next();
});

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
