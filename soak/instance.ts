/** One docsync server process, driven through its HTTP API. */
export interface FileJson {
  stable_id: string;
  hash: string;
  filename: string;
  labels: string[];
  collections: string[];
  metadata: Record<string, unknown>;
  doc_id: string | null;
  deleted: boolean;
}

export interface SyncResult {
  ok: boolean;
  message?: string;
  summary?: { skipped: boolean; conflicts: number };
}

type Outcome = 'ok' | 'refused';

export class Instance {
  private session = '';

  constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  async waitUntilUp(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.url}/api/v1/health`)).ok) return;
      } catch {
        // not yet listening
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} did not start`);
  }

  async login(username: string, password: string): Promise<void> {
    const res = await this.call('POST', '/auth/login', { username, password });
    this.session = ((await res.json()) as { sessionId: string }).sessionId;
  }

  async list(): Promise<FileJson[]> {
    const files: FileJson[] = [];
    let cursor = '';
    for (;;) {
      const res = await this.call('GET', `/files?limit=1000&include_deleted=true${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as { files: FileJson[]; next_cursor: string | null };
      files.push(...page.files);
      if (!page.next_cursor) return files;
      cursor = page.next_cursor;
    }
  }

  async upload(filename: string, content: string, labels: string[]): Promise<FileJson> {
    const form = new FormData();
    form.set('labels', JSON.stringify(labels));
    form.set('file', new Blob([content]), filename);
    const res = await fetch(`${this.url}/api/v1/files`, { method: 'POST', headers: { 'x-session-id': this.session }, body: form });
    if (res.status !== 201) throw new Error(`${this.name}: upload answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as FileJson;
  }

  async replace(id: string, content: string): Promise<Outcome> {
    const res = await fetch(`${this.url}/api/v1/files/${id}/content`, {
      method: 'PUT',
      headers: { 'x-session-id': this.session, 'content-type': 'application/octet-stream' },
      body: content,
    });
    return this.outcome(res);
  }

  async patch(id: string, body: object): Promise<Outcome> {
    return this.outcome(await this.call('PATCH', `/files/${id}`, body));
  }

  async remove(id: string): Promise<Outcome> {
    return this.outcome(await this.call('DELETE', `/files/${id}`));
  }

  async content(id: string): Promise<Buffer> {
    const res = await this.call('GET', `/files/${id}/content`);
    return Buffer.from(await res.arrayBuffer());
  }

  async sync(force: boolean): Promise<SyncResult> {
    const res = await this.call('POST', '/sync', force ? { force: true } : {});
    const body = (await res.json()) as { message?: string; skipped?: boolean; conflicts?: number };
    if (res.status === 200) return { ok: true, summary: body as SyncResult['summary'] };
    if (res.status >= 500 && res.status !== 502) throw new Error(`${this.name}: sync answered ${res.status}: ${body.message}`);
    return { ok: false, message: body.message ?? String(res.status) };
  }

  async conflicts(): Promise<Array<{ stable_id: string }>> {
    return ((await (await this.call('GET', '/sync/conflicts')).json()) as { conflicts: Array<{ stable_id: string }> }).conflicts;
  }

  async resolve(id: string, resolution: 'local_wins' | 'remote_wins' | 'keep_both'): Promise<Outcome> {
    return this.outcome(await this.call('POST', '/sync/resolve-conflict', { file_id: id, resolution }));
  }

  private async call(method: string, path: string, body?: object): Promise<Response> {
    return fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { 'x-session-id': this.session, ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body: JSON.stringify(body) }),
    });
  }

  /** 2xx ok; 404/409 (the file went away or changed state meanwhile) refused; anything else is a bug. */
  private async outcome(res: Response): Promise<Outcome> {
    if (res.ok) return 'ok';
    const text = await res.text();
    if (res.status === 404 || res.status === 409 || res.status === 502) return 'refused';
    throw new Error(`${this.name}: ${res.status} ${text}`);
  }
}
