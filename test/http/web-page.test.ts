import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpInstance, type HttpInstance } from '../support/instance.ts';

const WEB_INDEX = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));

describe('front door', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance();
  });
  afterAll(() => h.close());

  it('serves the web page at / when it is built, the API docs otherwise', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/' });
    if (fs.existsSync(WEB_INDEX)) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.body).toContain('<title>');
    } else {
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('docs');
    }
    const docs = await h.app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    expect(docs.json().paths['/api/v1/files']).toBeDefined();
  });
});
