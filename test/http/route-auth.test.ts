import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/http/app.ts';
import { createHttpInstance, type HttpInstance } from '../support/instance.ts';

/** The only API routes open without a session (README.md#http-api). */
const PUBLIC_ROUTES = new Set([`GET ${API_PREFIX}/health`, `HEAD ${API_PREFIX}/health`, `POST ${API_PREFIX}/auth/login`]);

describe('every protected route answers 401 without a session', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance();
  });
  afterAll(() => h.close());

  it('marks exactly health and login as public', () => {
    const open = h.app.routeTable.filter((r) => r.url.startsWith(API_PREFIX) && r.public).map((r) => `${r.method} ${r.url}`);
    expect(new Set(open)).toEqual(PUBLIC_ROUTES);
  });

  it('walks the whole route table', async () => {
    const api = h.app.routeTable.filter((r) => r.url.startsWith(API_PREFIX) && !r.public);
    // Guard against a walk that silently covers nothing.
    expect(api.length).toBeGreaterThanOrEqual(14);
    const { stable_id } = await h.docsync.files.create((await import('node:stream')).Readable.from([Buffer.from('x')]), {
      filename: 'x.txt',
    });
    for (const route of api) {
      const url = route.url.replace(':id', stable_id);
      for (const headers of [{}, { 'x-session-id': 'forged' }, { authorization: 'Bearer dst_forged' }, { cookie: 'sessionId=forged' }]) {
        const res = await h.app.inject({
          method: route.method as 'GET',
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: route.method === 'GET' || route.method === 'HEAD' ? undefined : '{}',
        });
        expect(res.statusCode, `${route.method} ${route.url} with ${JSON.stringify(headers)}`).toBe(401);
      }
    }
    // And nothing was changed by any of those requests.
    expect(h.docsync.files.get(stable_id).deleted).toBe(false);
  });
});
