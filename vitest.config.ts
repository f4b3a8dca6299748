import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their sources, so a test never runs against a stale build.
const root = path.dirname(new URL(import.meta.url).pathname);
const workspaces: string[] = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;
const alias = workspaces.map((dir) => {
  const name: string = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')).name;
  return { find: new RegExp(`^${name.replace('/', '\\/')}$`), replacement: path.join(root, dir, 'src/index.ts') };
});

export default defineConfig({
  resolve: { alias },
  test: {
    include: [
      'libs/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'config-center/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores run Redis, Celery and our programs: keep parallel test files few.
    maxWorkers: 2,
  },
});
