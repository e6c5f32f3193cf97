import type { PlannedChange, SyncSummary } from './events.ts';
import type { PlanAction } from './planner.ts';

/**
 * What a dry run answers: the counts a real sync would report, the plan file by file, and a message
 * that says what would happen. Never "nothing was changed" alone: that reads as "nothing to do"
 * when a sync would act.
 */
export function dryRunSummary(actions: PlanAction[], base: SyncSummary): SyncSummary {
  const count = (kind: PlanAction['kind'], content?: boolean) =>
    actions.filter((a) => a.kind === kind && (content === undefined || ('content' in a && a.content === content))).length;
  const summary: SyncSummary = {
    ...base,
    uploaded: count('push', true),
    downloaded: count('pull', true),
    deleted_local: count('delete_local'),
    deleted_remote: count('push_delete'),
    metadata_synced: count('push', false) + count('pull', false),
    conflicts: count('conflict'),
    plan: actions.map(plannedChange),
  };
  const would = [
    summary.uploaded && `upload ${summary.uploaded}`,
    summary.downloaded && `download ${summary.downloaded}`,
    summary.metadata_synced && `update the metadata of ${summary.metadata_synced}`,
    summary.deleted_local && `delete ${summary.deleted_local} here`,
    summary.deleted_remote && `delete ${summary.deleted_remote} on the remote`,
    summary.conflicts && `meet ${summary.conflicts} conflict(s)`,
    count('mark_synced') && `mark ${count('mark_synced')} as synced`,
  ].filter(Boolean);
  summary.message = would.length > 0 ? `Dry run: a sync would ${would.join(', ')}` : 'Dry run: nothing to do, already in sync';
  return summary;
}

/** A plan action as a dry run lists it, in rclone's words. */
function plannedChange(action: PlanAction): PlannedChange {
  const file = action.kind === 'pull' ? action.remote : action.local;
  const entry = (name: PlannedChange['action'], bytes = 0): PlannedChange => ({ action: name, stable_id: file.stable_id, filename: file.filename, bytes });
  switch (action.kind) {
    case 'push':
      return action.content ? entry('upload', action.local.size) : entry('update remote');
    case 'pull':
      return action.content ? entry('download', action.remote.size) : entry('update local');
    case 'push_delete':
      return entry('delete remote');
    case 'delete_local':
      return entry('delete local');
    case 'mark_synced':
      return entry('mark synced');
    case 'conflict':
      return { ...entry('conflict'), conflict_type: action.type };
  }
}
