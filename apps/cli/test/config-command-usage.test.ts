import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as config } from '../src/commands/config.js';
import { run as nodes } from '../src/commands/nodes.js';

/** Runs a command in-process and captures what it writes. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await fn(), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('usage errors exit 2 before any request', () => {
  // The center URL points nowhere: a usage error must be found before anything is sent.
  const center = ['--center', 'http://127.0.0.1:9'];

  it.each([
    [[], 'Usage: celeriac config'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['set', 'defaults'], 'give at least one path=value'],
    [['set', 'nodes/../etc', 'a=1'], '"nodes/../etc" is not a layer; layer names are'],
    [['set', 'defaults', 'celery.x'], 'is not path=value'],
    [['set', 'defaults', 'a..b=1'], 'empty key'],
    [['unset', 'defaults'], 'give at least one path to remove'],
    [['get'], 'name the layer'],
    [['get', 'defaults', 'extra'], 'unexpected argument: extra'],
    [['get', 'defaults', '-o', 'xml'], '-o xml: use json or yaml'],
    [['apply', 'defaults'], 'give the document with -f'],
    [['apply', 'defaults', '-f', '/nonexistent/file.json'], 'cannot read /nonexistent/file.json: ENOENT'],
    [['diff', '1'], 'the second revision must be a revision number'],
    [['rollback', 'latest'], 'the revision to restore must be a revision number, e.g. 12 (not "latest")'],
    [['history', 'defaults', '--node', 'x'], 'give either a layer or --node <node>, not both'],
    [['get', 'defaults', '--bogus'], 'unknown option --bogus'],
    [['set', 'defaults', 'a=1', '-m'], '--message needs a value'],
  ])('config %j', async (args, message) => {
    const result = await capture(() => config([...center, ...args]));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('nodes with an extra argument', async () => {
    const result = await capture(() => nodes([...center, 'extra']));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unexpected argument: extra');
  });

  it('prints help with exit 0, documenting the path syntax and exit codes', async () => {
    const result = await capture(() => config(['--help']));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('celery.task_annotations."tasks.add".rate_limit=10/s');
    expect(result.stdout).toContain(
      'Exit codes: 0 ok, 1 other error, 2 usage, 3 auth (401/403), 4 validation (400), 5 conflict (409).',
    );
    expect((await capture(() => nodes(['-h']))).stdout).toContain('Usage: celeriac nodes');
  });
});
