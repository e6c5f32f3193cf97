import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the browser tests put their screenshots (`ARTIFACTS` in test/browser/harness.ts). */
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts/browser');

/**
 * Once per vitest run, before any test file: the browser screenshots folder starts empty, so no
 * screenshot of an earlier run passes for this one's. (A test file clearing it itself removed the
 * screenshots of the browser files that had run before it.)
 */
export default function setup(): void {
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}
