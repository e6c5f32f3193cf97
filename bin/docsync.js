#!/usr/bin/env node
// Runs the TypeScript sources through tsx: `npm link` or `npx docsync` work without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
