// `celeriac nodes`: the table shows, per program and per node (ACTIVE/RESERVED), the
// active/reserved counts the agent's `inspect ping` probe reported for its workers (issue 9),
// not only --json.
import { describe, expect, it } from 'vitest';
import { formatNodes, formatPrograms, formatTaskCounts, type NodeRow } from '../src/commands/nodes.js';

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

  const row = (node: string, programs: NodeRow['programs']): NodeRow => ({
    node,
    state: 'in_sync',
    desired_revision: 2,
    applied_revision: 2,
    apply_result: 'ok',
    message: null,
    last_seen: '2026-01-01T00:09:59Z',
    drift: false,
    programs,
  });
  const probed = (active: number, reserved: number) => ({ responding: true, active, reserved });

  it('sums the counts of every probed worker of a node; "-" when none was probed', () => {
    expect(
      formatTaskCounts({
        w: {
          kind: 'celeriac-worker',
          state: 'running',
          pids: [1, 2],
          restarts: 0,
          config_hash: 'h',
          last_exit: null,
          workers: { a: probed(3, 5), b: probed(1, 0) },
        },
        py: {
          kind: 'celery-worker',
          state: 'running',
          pids: [3],
          restarts: 0,
          config_hash: 'h',
          last_exit: null,
          workers: { c: probed(0, 2) },
        },
      }),
    ).toBe('4/7');
    expect(
      formatTaskCounts({
        cmd: { kind: 'command', state: 'running', pids: [4], restarts: 0, config_hash: 'h', last_exit: null },
      }),
    ).toBe('-');
    expect(
      formatTaskCounts({
        py: {
          kind: 'celery-worker',
          state: 'running',
          pids: [3],
          restarts: 0,
          config_hash: 'h',
          last_exit: null,
          workers: { c: { responding: false } },
        },
      }),
    ).toBe('-');
  });

  it('an ACTIVE/RESERVED column before PROGRAMS when any node has probed workers, none otherwise', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const worker = {
      kind: 'celeriac-worker' as const,
      state: 'running' as const,
      pids: [10],
      restarts: 0,
      config_hash: 'h',
      last_exit: null,
      workers: { 'w@host': probed(7, 9) },
    };
    const command = {
      kind: 'command' as const,
      state: 'running' as const,
      pids: [11],
      restarts: 0,
      config_hash: 'h',
      last_exit: null,
    };
    const lines = formatNodes([row('a', { w: worker }), row('b', { c: command })], now).split('\n');
    expect(lines[0]).toMatch(
      /^NODE\s+STATE\s+DESIRED\s+APPLIED\s+RESULT\s+LAST SEEN\s+DRIFT\s+ACTIVE\/RESERVED\s+PROGRAMS$/,
    );
    expect(lines[1]?.split(/\s{2,}/)).toEqual([
      'a',
      'in_sync',
      '2',
      '2',
      'ok',
      '1s ago',
      'no',
      '7/9',
      'w running ×1 (active 7, reserved 9)',
    ]);
    expect(lines[2]?.split(/\s{2,}/)).toEqual(['b', 'in_sync', '2', '2', 'ok', '1s ago', 'no', '-', 'c running ×1']);
    expect(formatNodes([row('b', { c: command })], now).split('\n')[0]).not.toContain('ACTIVE/RESERVED');
  });
});
