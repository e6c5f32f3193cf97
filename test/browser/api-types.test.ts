/**
 * The page's hand-written API types (web/src/api-types.ts) against the server's schemas and event
 * types: a change on either side that the other does not follow fails `tsc` (npm run typecheck).
 */
import type { Static } from 'typebox';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  ConflictDetailResponse,
  BulkReportSchema,
  ConflictListResponse,
  FileHistoryResponse,
  FileListQuery,
  FileListResponse,
  FileSchema,
  ResolutionResponse,
  ResolveConflictBody,
  SyncStatusResponse,
  SyncSummarySchema,
  TrashResponse,
} from '../../src/http/schemas.ts';
import type { SyncEvent, SyncProgress as ServerSyncProgress } from '../../src/sync/events.ts';
import type * as Web from '../../web/src/api-types.ts';

type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
type EventData<K extends SyncEvent['type']> = Extract<SyncEvent, { type: K }>['data'];

describe('web/src/api-types.ts matches the server', () => {
  it('REST shapes', () => {
    expectTypeOf<Web.DocFile>().toEqualTypeOf<Mutable<Static<typeof FileSchema>>>();
    expectTypeOf<Web.FileList>().toEqualTypeOf<Mutable<Static<typeof FileListResponse>>>();
    expectTypeOf<Web.RemoteStatus>().toEqualTypeOf<Mutable<Static<typeof SyncStatusResponse>>>();
    expectTypeOf<Web.SyncSummary>().toEqualTypeOf<Mutable<Static<typeof SyncSummarySchema>>>();
    expectTypeOf<Web.ConflictList>().toEqualTypeOf<Mutable<Static<typeof ConflictListResponse>>>();
    expectTypeOf<Web.ConflictDetail>().toEqualTypeOf<Mutable<Static<typeof ConflictDetailResponse>>>();
    expectTypeOf<Web.MergeFields>().toEqualTypeOf<Mutable<NonNullable<Static<typeof ResolveConflictBody>['fields']>>>();
    expectTypeOf<Web.ResolutionAnswer>().toEqualTypeOf<Mutable<Static<typeof ResolutionResponse>>>();
    expectTypeOf<Web.FileHistory>().toEqualTypeOf<Mutable<Static<typeof FileHistoryResponse>>>();
    expectTypeOf<Web.TrashList>().toEqualTypeOf<Mutable<Static<typeof TrashResponse>>>();
    expectTypeOf<Web.BulkReport>().toEqualTypeOf<Mutable<Static<typeof BulkReportSchema>>>();
    expectTypeOf<Web.FileSort>().toEqualTypeOf<NonNullable<Static<typeof FileListQuery>['sort']>>();
    expectTypeOf<Web.Resolution>().toEqualTypeOf<Static<typeof ResolveConflictBody>['resolution']>();
  });

  it('SSE payloads', () => {
    expectTypeOf<ServerSyncProgress>().toExtend<Web.SyncProgress>();
    expectTypeOf<EventData<'syncComplete'>>().toExtend<Web.ServerEvents['syncComplete']>();
    expectTypeOf<EventData<'syncError'>>().toEqualTypeOf<Web.ServerEvents['syncError']>();
    expectTypeOf<EventData<'syncMessage'>>().toEqualTypeOf<Web.ServerEvents['syncMessage']>();
    expectTypeOf<EventData<'conflict'>>().toEqualTypeOf<Web.ServerEvents['conflict']>();
    expectTypeOf<EventData<'fileDataChanged'>>().toExtend<Web.ServerEvents['fileDataChanged']>();
    expectTypeOf<Web.ServerEvents['syncStatus']>().toEqualTypeOf<Mutable<Static<typeof SyncStatusResponse>>>();
  });
});
