// `celeriac nodes`: the table shows, per program, the active/reserved counts the agent's
// `inspect ping` probe reported for its workers (issue 9), not only --json.
import { describe, expect, it } from 'vitest';
import { formatNodes, formatPrograms } from '../src/commands/nodes.js';

describe('nodes table: per-program worker counts', () => {
  it('sums active and reserved over the probed workers of each program', () => {
    const text = formatPrograms({
      w: {
        kind: 'celeriac-worker',
        state: 'running',
        pids: [10, 11],
        restarts: 1,
        config_hash: 'h',
        last_exit: null,
        workers: {
          'w-1@host': { responding: true, active: 3, reserved: 5, last_reply_at: '2026-01-01T00:00:00Z' },
          'w-2@host': { responding: true, active: 1, reserved: 0, last_reply_at: '2026-01-01T00:00:00Z' },
        },
      },
      py: {
        kind: 'celery-worker',
        state: 'running',
        pids: [12],
        restarts: 0,
        config_hash: 'h',
        last_exit: null,
        workers: { 'py@host': { responding: true, active: 0, reserved: 2 } },
      },
    });
    expect(text).toBe('py running ×1 (active 0, reserved 2), w running ×2 (1 restart, active 4, reserved 5)');
  });

  it('says which workers stopped answering; programs never probed show no counts', () => {
    const text = formatPrograms({
      w: {
        kind: 'celeriac-worker',
        state: 'running',
        pids: [10, 11],
        restarts: 0,
        config_hash: 'h',
        last_exit: null,
        workers: {
          'w-1@host': { responding: false, active: 2, reserved: 1, last_reply_at: null },
          'w-2@host': { responding: true, active: 1, reserved: 1 },
        },
      },
      all_silent: {
        kind: 'celery-worker',
        state: 'running',
        pids: [12],
        restarts: 0,
        config_hash: 'h',
        last_exit: null,
        workers: { 'a@host': { responding: false } },
      },
      cmd: { kind: 'command', state: 'running', pids: [13], restarts: 0, config_hash: 'h', last_exit: null },
    });
    expect(text).toBe(
      'all_silent running ×1 (not responding), cmd running ×1, w running ×2 (active 3, reserved 2, 1 of 2 not responding)',
    );
  });

  it('the counts appear in the PROGRAMS column of the table', () => {
    const text = formatNodes(
      [
        {
          node: 'n',
          state: 'in_sync',
          desired_revision: 2,
          applied_revision: 2,
          apply_result: 'ok',
          message: null,
          last_seen: '2026-01-01T00:09:59Z',
          drift: false,
          programs: {
            w: {
              kind: 'celeriac-worker',
              state: 'running',
              pids: [10],
              restarts: 0,
              config_hash: 'h',
              last_exit: null,
              workers: { 'w@host': { responding: true, active: 7, reserved: 9 } },
            },
          },
        },
      ],
      Date.parse('2026-01-01T00:10:00Z'),
    );
    expect(text.split('\n')[1]).toMatch(/ w running ×1 \(active 7, reserved 9\)$/);
  });
});
