import { describe, expect, it } from 'vitest';
import { parseWorkerArgs } from '../src/cli-options.js';

describe('parseWorkerArgs', () => {
  it('reads every option, Celery style', () => {
    const o = parseWorkerArgs(
      [
        '-A',
        './tasks.ts',
        '-Q',
        'celery, add_queue,',
        '-c',
        '16',
        '-l',
        'WARNING',
        '--config',
        'c.json',
        '-n',
        'w1@%h',
      ],
      {},
    );
    expect(o).toMatchObject({
      app: './tasks.ts',
      queues: ['celery', 'add_queue'],
      concurrency: 16,
      logLevel: 'warn',
      configFile: 'c.json',
      name: 'w1@%h',
      readyFile: null,
      prefetchMultiplier: null,
      drainTimeoutMs: 30_000,
    });
  });

  it('-E / --task-events turns task events on (off by default)', () => {
    expect(parseWorkerArgs(['-A', 'a.js'], {}).taskEvents).toBe(false);
    expect(parseWorkerArgs(['-A', 'a.js', '-E'], {}).taskEvents).toBe(true);
    expect(parseWorkerArgs(['-A', 'a.js', '--task-events'], {}).taskEvents).toBe(true);
  });

  it('takes the ready file from the flag, else CELERIAC_READY_FILE (empty means none)', () => {
    expect(
      parseWorkerArgs(['-A', 'a.js', '--ready-file', '/r.json'], { CELERIAC_READY_FILE: '/env.json' }).readyFile,
    ).toBe('/r.json');
    expect(parseWorkerArgs(['-A', 'a.js'], { CELERIAC_READY_FILE: '/env.json' }).readyFile).toBe('/env.json');
    expect(parseWorkerArgs(['-A', 'a.js'], { CELERIAC_READY_FILE: '' }).readyFile).toBeNull();
  });

  it('refuses what it cannot use, saying what was wrong', () => {
    expect(() => parseWorkerArgs([], {})).toThrow('Missing -A <module>');
    expect(() => parseWorkerArgs(['-A', 'a.js', '-c', 'many'], {})).toThrow('-c/--concurrency must be an integer ≥ 1');
    expect(() => parseWorkerArgs(['-A', 'a.js', '-l', 'loud'], {})).toThrow('Unknown log level "loud"');
    expect(() => parseWorkerArgs(['-A', 'a.js', '--bogus'], {})).toThrow(/bogus/);
    expect(() => parseWorkerArgs(['-A', 'a.js', '--drain-timeout', '-1'], {})).toThrow('--drain-timeout');
    expect(parseWorkerArgs(['--help'], {}).help).toBe(true);
  });
});
