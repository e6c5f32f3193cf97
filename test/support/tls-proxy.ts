/**
 * Debian's nginx as a TLS reverse proxy in front of a docsync server, running the site config the
 * repository ships (deploy/nginx-docsync.conf) with a self-signed certificate made by openssl. Only
 * the addresses, the certificate paths and the upstream port are swapped for test values; each
 * swap must find its line, so a config that drifts from what the test knows fails loudly.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, freePort, launchTracked } from './webdav-servers.ts';

export const SITE_CONFIG = fileURLToPath(new URL('../../deploy/nginx-docsync.conf', import.meta.url));
/** The upstream address the shipped config names. */
const SHIPPED_UPSTREAM = 'http://127.0.0.1:8080/';
const START_TIMEOUT_MS = 10_000;
const isRoot = process.getuid?.() === 0;

export interface TlsProxy {
  /** e.g. https://localhost:PORT (the certificate is for localhost and 127.0.0.1). */
  origin: string;
  port: number;
  /** The self-signed certificate: trust it, and only it, in requests. */
  ca: Buffer;
  pid: number;
  stop(): Promise<void>;
}

/** What is missing to run the proxy test: nginx, openssl. */
export function missingProxyParts(): string[] {
  return ['nginx', 'openssl'].filter((bin) => !findBinary(bin));
}

/** The shipped site config with test addresses; throws when a line the test swaps is not there. */
export function siteConfigForTest(text: string, values: { port: number; httpPort: number; upstreamPort: number; cert: string; key: string }): string {
  const swaps: Array<[RegExp, string]> = [
    [/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${values.httpPort};`],
    [/^\s*listen \[::\]:80;\n/m, ''],
    [/^(\s*)listen 443 ssl http2;$/m, `$1listen 127.0.0.1:${values.port} ssl http2;`],
    [/^\s*listen \[::\]:443 ssl http2;\n/m, ''],
    [/^(\s*)ssl_certificate\s+\S+;$/m, `$1ssl_certificate ${values.cert};`],
    [/^(\s*)ssl_certificate_key\s+\S+;$/m, `$1ssl_certificate_key ${values.key};`],
    [new RegExp(`proxy_pass ${SHIPPED_UPSTREAM.replace(/[.:/]/g, '\\$&')};`), `proxy_pass http://127.0.0.1:${values.upstreamPort}/;`],
  ];
  let out = text;
  for (const [pattern, replacement] of swaps) {
    if (!pattern.test(out)) throw new Error(`${SITE_CONFIG} has no line matching ${pattern}: update test/support/tls-proxy.ts with it`);
    out = out.replace(pattern, replacement);
  }
  return out;
}

function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(findBinary('openssl')!, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

/** Starts nginx with the shipped site config in front of docsync at 127.0.0.1:`upstreamPort`. */
export async function startTlsProxy(upstreamPort: number): Promise<TlsProxy> {
  const missing = missingProxyParts();
  if (missing.length > 0) throw new Error(`TLS proxy: missing ${missing.join(', ')}; run scripts/install-system-deps.sh`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-tls-proxy-'));
  const { cert, key } = makeCertificate(dir);
  const ca = fs.readFileSync(cert);
  for (let attempt = 1; ; attempt++) {
    const [port, httpPort] = [await freePort(), await freePort()];
    const site = siteConfigForTest(fs.readFileSync(SITE_CONFIG, 'utf8'), { port, httpPort, upstreamPort, cert, key });
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${dir}/nginx-${name};`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;  # the master stays our child: a PID we own and stop
worker_processes 1;
${isRoot ? 'user root root;  # the default, nobody, could not use the temp paths below' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  ${temp.join('\n  ')}
${site}
}
`);
    fs.rmSync(path.join(dir, 'error.log'), { force: true });
    const server = launchTracked(dir, findBinary('nginx')!, ['-e', `${dir}/error.log`, '-p', `${dir}/`, '-c', `${dir}/nginx.conf`]);
    const origin = `https://localhost:${port}`;
    const ready = await waitUntilReady(origin, ca, server.exited);
    if (ready === true) {
      return {
        origin,
        port,
        ca,
        pid: server.pid,
        stop: async () => {
          await server.stop();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await server.stop();
    const log = readLog(dir);
    // Another process may take a probed port before nginx binds it: try new ones.
    if (attempt < 3 && /address already in use/i.test(log)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start (${ready}):\n${log}`);
  }
}

function readLog(dir: string): string {
  return ['error.log', 'stdio.log'].map((name) => {
    try {
      return `--- ${name} ---\n${fs.readFileSync(path.join(dir, name), 'utf8')}`;
    } catch {
      return '';
    }
  }).join('\n');
}

/** True once nginx answers over TLS (anything: docsync's own answer does not matter here). */
async function waitUntilReady(origin: string, ca: Buffer, exited: Promise<void>): Promise<true | string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no answer';
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) return 'nginx exited';
    try {
      await httpsRequest(`${origin}/docsync`, { ca, timeoutMs: 1000 });
      return true;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return `no TLS answer within ${START_TIMEOUT_MS} ms (last: ${last})`;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One HTTPS request that trusts only `ca` (the proxy's own certificate, checked for `localhost`);
 * `localAddress` picks the client's loopback address (127.0.0.2, …) as nginx will see it.
 */
export function httpsRequest(
  url: string,
  options: { ca: Buffer; method?: string; headers?: Record<string, string>; body?: Buffer | string; localAddress?: string; timeoutMs?: number },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      ca: options.ca,
      ...(options.localAddress && { localAddress: options.localAddress }),
      agent: false,
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`${url}: no answer in time`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.end(options.body);
  });
}
