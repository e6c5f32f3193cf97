import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isoUtc } from '../src/domain/clock.ts';
import { fileTypeOf, mimeTypeOf } from '../src/domain/file.ts';
import { newStableId, seededIdSource } from '../src/domain/ids.ts';
import type { RemoteFileRow } from '../src/domain/shared-row.ts';
import { remotePaths } from '../src/remote/paths.ts';
import { RemoteSnapshot } from '../src/remote/remote-snapshot.ts';
import { Prng } from './prng.ts';
import type { World } from './world.ts';

/** Files the format-1 remote starts with. */
const FORMAT1_FILES = 4;

/**
 * Writes a format-1 remote straight into the world's memory remote, as a docsync before format 2
 * left it: `version.txt` in the format-1 form (`snapshot`, `sha256`, `commit`, `repo` lines), one
 * snapshot `metadata/000001-<commit>.db` whose meta says `format_version` 1, and the blobs of its
 * rows. Every row is recorded in the model as a create by `format1`, so the invariants hold it like
 * any other change; the first sync of an instance converts the remote to format 2.
 */
export async function seedFormat1Remote(world: World): Promise<void> {
  const ids = seededIdSource(world.options.seed * 1000 + 999);
  const prng = new Prng(world.options.seed ^ 0xf0f1);
  const repo = ids.uuid();
  const commit = `f1${ids.bytes(6).toString('hex')}`;
  const now = isoUtc(world.clock.now());
  const rows: RemoteFileRow[] = [];
  for (let i = 0; i < FORMAT1_FILES; i++) {
    const rev = world.model.peekId();
    const content = Buffer.concat([Buffer.from(`docsync sim seed ${world.options.seed} format-1 file ${rev}\n`), new Prng(prng.int(1, 1e9)).bytes(prng.int(1, 300))]);
    const hash = createHash('sha256').update(content).digest('hex');
    const filename = `old-${i}.${prng.pick(['pdf', 'xml', 'txt'])}`;
    const row: RemoteFileRow = {
      stable_id: newStableId(ids),
      hash,
      filename,
      file_type: fileTypeOf(filename),
      mime_type: mimeTypeOf(filename),
      size: content.length,
      doc_id: null,
      collections: prng.chance(0.5) ? ['legacy'] : [],
      labels: [],
      metadata: { rev, by: 'format1' },
      deleted: false,
      created_at: now,
      updated_at: now,
      version: 1,
    };
    await world.memory.mkdir(remotePaths.blobDir(hash));
    await world.memory.put(remotePaths.blob(hash, row.file_type), content);
    world.model.record(-1, 'format1', 'create', undefined, row);
    rows.push(row);
  }
  const file = path.join(world.root, 'check', 'format1.db');
  const snapshot = RemoteSnapshot.create(file, repo);
  snapshot.transaction(() => {
    for (const row of rows) snapshot.upsert(row);
  });
  snapshot.stamp(1, commit);
  snapshot.close();
  const db = new Database(file);
  db.prepare("UPDATE meta SET value = '1' WHERE key = 'format_version'").run();
  db.close();
  const bytes = fs.readFileSync(file);
  fs.rmSync(file);
  const snapshotAt = remotePaths.snapshot(1, commit);
  await world.memory.mkdir(remotePaths.metadataDir);
  await world.memory.put(snapshotAt, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await world.memory.put(remotePaths.versionFile, Buffer.from(`1\nsnapshot ${snapshotAt}\nsha256 ${sha256}\ncommit ${commit}\nrepo ${repo}\n`));
  world.stats.format1Starts++;
}
