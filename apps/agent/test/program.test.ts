import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, logSchemaViolations } from '@celeriac/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildRegistry } from '../src/child-registry.js';
import { ProgramNotReadyError, ProgramSpawnError } from '../src/errors.js';
import { groupMembers, readProcStat } from '../src/process-group.js';
import { Program, type ProgramSpec, type ReplicaExit } from '../src/program.js';
import type { Readiness } from '../src/program-launch.js';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  level: 'debug',
  pretty: false,
  destination: { write: (line: string) => logLines.push(JSON.parse(line)) },
});
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node script as a `command` program: it appends "<event> <gen> <pid>" lines to a journal. */
function script(journal: string, gen: string, body = ''): string {
  return `
const fs = require('fs');
const log = (e) => fs.appendFileSync(${JSON.stringify(journal)}, e + ' ${gen} ' + process.pid + '\\n');
log('start');
if (process.env.READY_FILE) fs.writeFileSync(process.env.READY_FILE, JSON.stringify({ pid: process.pid }));
process.on('SIGTERM', () => { log('term'); setTimeout(() => process.exit(0), 50); });
setInterval(() => {}, 1000);
${body}
`;
}

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-program-'));
  const journal = path.join(dir, 'journal.log');
  const registry = new ChildRegistry(dir, logger);
  const exits: ReplicaExit[] = [];
  let program: Program | undefined;
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => program?.close());
  const spec = (
    gen: string,
    options: {
      replicas?: number;
      body?: string;
      readiness?: Readiness;
      readyTimeoutMs?: number;
      stopTimeoutMs?: number;
    } = {},
  ): ProgramSpec => ({
    name: 'cmd',
    definition: {
      kind: 'command',
      replicas: options.replicas ?? 2,
      command: ['node'],
      stop_timeout: '5s',
      ready_timeout: '5s',
    },
    replicas: options.replicas ?? 2,
    stopTimeoutMs: options.stopTimeoutMs ?? 5000,
    readyTimeoutMs: options.readyTimeoutMs ?? 5000,
    configHash: `hash-${gen}`,
    launch: (replica) => ({
      file: process.execPath,
      args: ['-e', script(journal, gen, options.body)],
      env: { READY_FILE: path.join(dir, `ready-${replica}.json`) },
      cwd: dir,
      readiness: options.readiness ?? { type: 'file', path: path.join(dir, `ready-${replica}.json`) },
      logFile: path.join(dir, 'logs', `${replica}.log`),
    }),
  });
  const make = (first: ProgramSpec) => {
    program = new Program(first, {
      logger,
      registry,
      onExit: (e) => exits.push(e),
      onChange: () => undefined,
      crashBackoff: { initialMs: 50, maxMs: 200, stableAfterMs: 60_000, maxQuickFailures: 3, jitter: 0 },
    });
    return program;
  };
  const lines = () =>
    readFileSync(journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
  return { dir, journal, registry, exits, spec, make, lines };
}

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== 'Z';
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Program', () => {
  it('starts N replicas, each leading its own process group, recorded in the registry', async () => {
    const t = setup();
    const program = t.make(t.spec('g1'));
    expect(await program.start()).toEqual({ ok: true });
    const pids = program.pids();
    expect(pids).toHaveLength(2);
    for (const pid of pids) {
      expect(alive(pid)).toBe(true);
      expect(readProcStat(pid)?.pgid).toBe(pid);
    }
    expect(
      t.registry
        .list()
        .map((r) => r.pid)
        .sort(),
    ).toEqual([...pids].sort());
    expect(program.status()).toMatchObject({ kind: 'command', state: 'running', restarts: 0, config_hash: 'hash-g1' });
    await program.stop();
    expect(pids.some(alive)).toBe(false);
    expect(t.registry.list()).toEqual([]);
    expect(program.status().state).toBe('stopped');
  });

  it('rolling restart: each new process is ready before the old one gets TERM', async () => {
    const t = setup();
    const program = t.make(t.spec('g1'));
    await program.start();
    const old = program.pids();
    expect(await program.rollingRestart(t.spec('g2'))).toEqual({ ok: true });
    const fresh = program.pids();
    expect(fresh).toHaveLength(2);
    expect(fresh.some((p) => old.includes(p))).toBe(false);
    await until(() => !old.some(alive));
    const events = t.lines();
    const index = (e: string, pid: number) => events.findIndex(([ev, , p]) => ev === e && Number(p) === pid);
    for (let i = 0; i < 2; i++) {
      const newPid = fresh[i] as number;
      const oldPid = old[i] as number;
      expect(index('start', newPid), JSON.stringify({ events, fresh, old })).toBeGreaterThan(-1);
      expect(index('term', oldPid)).toBeGreaterThan(index('start', newPid));
    }
    expect(program.status().config_hash).toBe('hash-g2');
    expect(t.exits.filter((e) => !e.expected)).toEqual([]);
  });

  it('a new process that exits within the grace period is not ready: the old ones keep running, the old spec stays', async () => {
    const t = setup();
    const program = t.make(t.spec('g1'));
    await program.start();
    const old = program.pids();
    const outcome = await program.rollingRestart(
      t.spec('bad', { body: 'setTimeout(() => process.exit(3), 50);', readiness: { type: 'grace', ms: 5000 } }),
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/replica 1 .*exited \(code 3\) before it was ready/);
    expect(outcome.error).toBeInstanceOf(ProgramNotReadyError);
    expect(outcome.error?.code).toBe('AGENT_PROGRAM_EXITED');
    expect(program.pids()).toEqual(old);
    expect(old.every(alive)).toBe(true);
    expect(program.currentSpec.configHash).toBe('hash-g1');
    expect(program.status().state).toBe('running');
  });

  it('a new process that never gets ready within ready_timeout is killed; the old ones keep running', async () => {
    const t = setup();
    const program = t.make(t.spec('g1', { replicas: 1 }));
    await program.start();
    const old = program.pids();
    const neverReady = t.spec('slow', {
      replicas: 1,
      readyTimeoutMs: 600,
      readiness: { type: 'file', path: path.join(t.dir, 'never-written.json') },
    });
    const started = Date.now();
    const outcome = await program.rollingRestart(neverReady);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(outcome).toMatchObject({ ok: false });
    expect(outcome.message).toMatch(/not ready within 600 ms/);
    expect(outcome.error).toBeInstanceOf(ProgramNotReadyError);
    expect(outcome.error?.code).toBe('AGENT_PROGRAM_NOT_READY');
    const slowPid = Number(t.lines().find(([e, g]) => e === 'start' && g === 'slow')?.[2]);
    await until(() => !alive(slowPid));
    expect(program.pids()).toEqual(old);
    expect(alive(old[0] as number)).toBe(true);
  });

  it('restarts a killed replica with backoff and reports the exit', async () => {
    const t = setup();
    const program = t.make(t.spec('g1', { replicas: 1 }));
    await program.start();
    const [pid] = program.pids() as [number];
    process.kill(pid, 'SIGKILL');
    await until(() => program.pids().length === 1 && program.pids()[0] !== pid && program.state === 'running');
    expect(program.status()).toMatchObject({ restarts: 1, last_exit: { code: null, signal: 'SIGKILL' } });
    expect(t.exits).toMatchObject([{ pid, signal: 'SIGKILL', expected: false, replica: 1 }]);
  });

  it('goes FATAL after repeated quick failures and stops restarting', async () => {
    const t = setup();
    const program = t.make(t.spec('g1', { replicas: 1, body: 'setTimeout(() => process.exit(1), 400);' }));
    await program.start();
    await until(() => program.state === 'fatal');
    const starts = t.lines().filter(([e]) => e === 'start').length;
    expect(starts).toBe(3);
    expect(program.status()).toMatchObject({ state: 'fatal', pids: [], last_exit: { code: 1 } });
    await new Promise((r) => setTimeout(r, 500));
    expect(t.lines().filter(([e]) => e === 'start').length).toBe(3);
  });

  it('killAll() ends a stop that would otherwise wait out the stop timeout', async () => {
    const t = setup();
    const body = `process.removeAllListeners('SIGTERM'); process.on('SIGTERM', () => log('ignored'));`;
    const program = t.make(t.spec('g1', { replicas: 2, body, stopTimeoutMs: 30_000 }));
    await program.start();
    const pids = program.pids();
    const started = Date.now();
    const stopping = program.stop();
    await until(() => t.lines().filter(([e]) => e === 'ignored').length === 2);
    program.killAll();
    await stopping;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pids.some(alive)).toBe(false);
  });

  it('KILLs the whole process group when TERM is ignored past stop_timeout', async () => {
    const t = setup();
    const body = `
      process.removeAllListeners('SIGTERM');
      process.on('SIGTERM', () => log('ignored'));
      require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' });`;
    const program = t.make(t.spec('g1', { replicas: 1, body, stopTimeoutMs: 400 }));
    await program.start();
    const [pid] = program.pids() as [number];
    await until(() => groupMembers(pid).length === 2);
    const started = Date.now();
    await program.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(groupMembers(pid)).toEqual([]);
    expect(t.lines().some(([e]) => e === 'ignored')).toBe(true);
  });

  it('a program whose executable does not exist fails with ProgramSpawnError, for start and restart', async () => {
    const t = setup();
    const good = t.spec('g1', { replicas: 1 });
    const missing = (spec: ProgramSpec): ProgramSpec => ({
      ...spec,
      launch: (replica, generation) => ({ ...spec.launch(replica, generation), file: path.join(t.dir, 'no-such-bin') }),
    });
    const program = t.make(missing(good));
    const started = await program.start();
    expect(started).toMatchObject({ ok: false, message: expect.stringMatching(/could not start .*no-such-bin/) });
    expect(started.error).toBeInstanceOf(ProgramSpawnError);
    expect(started.error?.code).toBe('AGENT_PROGRAM_SPAWN_FAILED');
    await program.stop();

    expect(await program.rollingRestart(good)).toEqual({ ok: true });
    const [pid] = program.pids();
    const restarted = await program.rollingRestart(missing(t.spec('g2', { replicas: 1 })));
    expect(restarted.error?.code).toBe('AGENT_PROGRAM_SPAWN_FAILED');
    expect(program.pids()).toEqual([pid]);
    expect(program.currentSpec.configHash).toBe('hash-g1');
  });

  it('logs every line with an event and snake_case fields; FATAL and backoff are logged transitions', () => {
    expect(logLines.flatMap((line) => logSchemaViolations(line).map((p) => `${line.event}: ${p}`))).toEqual([]);
    const transitions = logLines.filter((l) => l.event === 'program.state').map((l) => `${l.from}→${l.to}`);
    expect(transitions).toEqual(expect.arrayContaining(['stopped→starting', 'starting→running', 'running→backoff']));
    expect(transitions.some((t) => t.endsWith('→fatal'))).toBe(true);
    expect(logLines.some((l) => l.event === 'program.stop_timeout' && l.stop_timeout_ms === 400)).toBe(true);
  });
});
