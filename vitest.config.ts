import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their sources, so a test never runs against a stale build.
const root = path.dirname(new URL(import.meta.url).pathname);
const workspaces: string[] = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces;
// Subpath exports (e.g. `@celeriac/config-schema/normalize`) map to the source of their dist file.
const alias = workspaces.flatMap((dir) => {
  const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
  const name: string = pkg.name;
  const exact = (specifier: string) => new RegExp(`^${specifier.replace('/', '\\/')}$`);
  const subpaths = Object.entries((pkg.exports ?? {}) as Record<string, { default?: string }>)
    .filter(([key, target]) => key !== '.' && typeof target.default === 'string')
    .map(([key, target]) => ({
      find: exact(name + key.slice(1)),
      replacement: path.join(
        root,
        dir,
        (target.default as string).replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'),
      ),
    }));
  return [{ find: exact(name), replacement: path.join(root, dir, 'src/index.ts') }, ...subpaths];
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
