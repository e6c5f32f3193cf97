/** How a file's two sides disagree (docs/design.md#sync). */
export const CONFLICT_TYPES = ['modified_both', 'deleted_remote', 'deleted_local'] as const;
/** `deleted_remote`: modified here, deleted there. `deleted_local`: deleted here, modified there. */
export type ConflictType = (typeof CONFLICT_TYPES)[number];
