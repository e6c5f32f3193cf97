import type {
  ApiErrorBody,
  ConflictDetail,
  BulkAction,
  BulkReport,
  FileSort,
  Selection,
  ConflictList,
  DocFile,
  FileFilters,
  FileHistory,
  FileList,
  LoginAnswer,
  MergeFields,
  RemoteStatus,
  Resolution,
  ResolutionAnswer,
  SyncSummary,
  TrashList,
} from './api-types.ts';
import { h } from './dom.ts';

/**
 * Relative to the page, so that the page works wherever a reverse proxy mounts docsync
 * (`https://host/docsync/` calls `https://host/docsync/api/v1/…`).
 */
const BASE = 'api/v1';

/** An answer other than 2xx, with the API's own message (`{error, message}`) when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called on every 401 after login: the session ended (logged out elsewhere, expired). */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function errorFrom(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>;
    if (typeof body.message === 'string') return new ApiError(status, body.error ?? 'error', body.message);
  } catch {
    // not JSON: a proxy's page, an empty body
  }
  if (status === 0) return new ApiError(0, 'network', 'The server cannot be reached. Is docsync running?');
  return new ApiError(status, 'http', `The server answered ${status}`);
}

async function request<T>(method: string, path: string, body?: unknown, options: { quiet401?: boolean } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch {
    throw errorFrom(0, '');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    throw errorFrom(response.status, text);
  }
  return JSON.parse(text) as T;
}

/** A request whose answer is not JSON to parse here (content, multipart bodies); errors as in `request`. */
async function send(url: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...init });
  } catch {
    throw errorFrom(0, '');
  }
  if (response.ok || response.status === 416) return response;
  if (response.status === 401) onUnauthorized();
  throw errorFrom(response.status, await response.text());
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const api = {
  me: () => request<{ username: string }>('GET', '/auth/me', undefined, { quiet401: true }),
  login: (username: string, password: string) =>
    request<LoginAnswer>('POST', '/auth/login', { username, password }, { quiet401: true }),
  logout: () => request<void>('POST', '/auth/logout', undefined, { quiet401: true }),

  listFiles: (filters: FileFilters, page: { cursor?: string; limit: number; sort?: FileSort; order?: 'asc' | 'desc' }) =>
    request<FileList>('GET', `/files${query({ collection: filters.collection, label: filters.label, q: filters.q, ...page })}`),
  bulk: (selection: Selection, action: BulkAction['action'], values?: string[]) =>
    request<BulkReport>('POST', '/files/bulk', { ...selection, action, ...(values && { values }) }),
  /** A one-time link, followed as a navigation: the browser streams the zip to disk, never into memory. */
  downloadZip: async (selection: Selection) => {
    const { url } = await request<{ url: string }>('POST', '/files/zip-links', selection);
    h('a', { href: `${BASE}/${url}`, download: '' }).click();
  },
  updateFile: (id: string, patch: { collections?: string[]; labels?: string[]; filename?: string; doc_id?: string | null; metadata?: Record<string, unknown> }) =>
    request<DocFile>('PATCH', `/files/${encodeURIComponent(id)}`, patch),
  getFile: (id: string) => request<DocFile>('GET', `/files/${encodeURIComponent(id)}`),
  deleteFile: (id: string) => request<void>('DELETE', `/files/${encodeURIComponent(id)}`),
  contentUrl: (id: string) => `${BASE}/files/${encodeURIComponent(id)}/content`,
  /** The first `maxBytes` of a file as text (one ranged request; an empty file answers 416). */
  contentText: async (id: string, maxBytes: number) => {
    const response = await send(api.contentUrl(id), { headers: { range: `bytes=0-${maxBytes - 1}` } });
    return response.status === 416 ? '' : new TextDecoder().decode(await response.arrayBuffer());
  },
  fileHistory: (id: string) => request<FileHistory>('GET', `/files/${encodeURIComponent(id)}/history`),
  restoreVersion: (id: string, version: number) =>
    request<DocFile>('POST', `/files/${encodeURIComponent(id)}/history/${version}/restore`),
  trash: (page: { cursor?: string; limit: number }) => request<TrashList>('GET', `/trash${query(page)}`),
  restoreDeleted: (id: string) => request<DocFile>('POST', `/trash/${encodeURIComponent(id)}/restore`),

  syncStatus: () => request<RemoteStatus>('GET', '/sync/status'),
  sync: () => request<SyncSummary>('POST', '/sync', {}),
  conflicts: () => request<ConflictList>('GET', '/sync/conflicts'),
  conflict: (fileId: string) => request<ConflictDetail>('GET', `/sync/conflicts/${encodeURIComponent(fileId)}`),
  remoteContentUrl: (fileId: string) => `${BASE}/sync/conflicts/${encodeURIComponent(fileId)}/remote-content`,
  resolve: (fileId: string, resolution: Resolution, fields?: MergeFields) =>
    request<ResolutionAnswer>('POST', '/sync/resolve-conflict', { file_id: fileId, resolution, ...(fields && { fields }) }),

  eventsUrl: `${BASE}/sse/subscribe`,
};

export interface UploadHandle {
  done: Promise<DocFile>;
  abort(): void;
}

/** `POST /files`, a new file, its progress reported (see `sendForm`). */
export function uploadFile(
  file: File,
  fields: { collections?: string[]; labels?: string[] },
  onProgress: (loaded: number, total: number) => void,
): UploadHandle {
  const form = new FormData();
  // The small fields first: the server reads parts in order and the file streams last.
  if (fields.collections?.length) form.append('collections', JSON.stringify(fields.collections));
  if (fields.labels?.length) form.append('labels', JSON.stringify(fields.labels));
  form.append('file', file, file.name);
  return sendForm('POST', `${BASE}/files`, form, onProgress);
}

/** `PUT /files/{id}/content`, a new version of a file, its progress reported (see `sendForm`). */
export function uploadVersion(id: string, file: File, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const form = new FormData();
  form.append('file', file, file.name);
  return sendForm('PUT', `${BASE}/files/${encodeURIComponent(id)}/content`, form, onProgress);
}

/** Sends a form through XMLHttpRequest, the one browser API that reports upload progress; errors as in `request`. */
function sendForm(method: 'POST' | 'PUT', url: string, form: FormData, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<DocFile>((resolve, reject) => {
    xhr.open(method, url);
    xhr.withCredentials = true;
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(JSON.parse(xhr.responseText) as DocFile);
        return;
      }
      if (xhr.status === 401) onUnauthorized();
      reject(errorFrom(xhr.status, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(errorFrom(0, '')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'Upload cancelled')));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
