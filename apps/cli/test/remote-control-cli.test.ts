import { spawn } from 'node:child_process';
import path from 'node:path';
import { ControlServer, RevokedSet } from '@celeriac/control-plane';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger, FakeTarget, request } from '../../../libs/control-plane/test/helpers.js';
import { RedisServer } from '../../../test/support/redis-server.js';

// `celeriac inspect` / `celeriac control` (the built CLI) against a pidbox node on a private Redis.
const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'apps/cli/bin/celeriac.js');
const NODE = 'cli-node@test';

let redis: RedisServer;
let commands: Redis;
let server: ControlServer;
const target = new FakeTarget(NODE);
const log = capturingLogger();

function celeriac(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  redis = await RedisServer.start();
  commands = new Redis(redis.url(0));
  target.activeList = [request('a-1', 'tasks.add', [1, 2], true)];
  target.reservedList = [request('r-1', 'tasks.add', [3, 4], false), request('r-2', 'tasks.add', [5, 6], false)];
  server = new ControlServer({
    url: redis.url(0),
    target,
    revoked: new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 }),
    logger: log.logger,
  });
  await server.start();
});

afterAll(async () => {
  await server?.close();
  commands?.disconnect();
  await redis?.stop();
});

describe('celeriac inspect / control', () => {
  it('ping, counts and JSON replies; a Celery-like exit 69 when nobody answers; usage errors exit 2', async () => {
    const b = ['-b', redis.url(0)];
    const [ping, counts, json, control, nobody, usage] = await Promise.all([
      celeriac('inspect', 'ping', ...b, '-d', NODE),
      celeriac('inspect', 'counts', ...b, '-d', NODE),
      celeriac('inspect', 'registered', ...b, '-d', NODE, '--json'),
      celeriac('control', 'rate_limit', 'ctlapp.add', '10/m', ...b, '-d', NODE),
      celeriac('inspect', 'ping', ...b, '-d', 'nobody@nowhere', '-t', '0.3'),
      celeriac('control', 'rate_limit', ...b),
    ]);
    expect(ping).toMatchObject({ code: 0, stdout: `->  ${NODE}: OK\n        pong\n\n1 node online.\n` });
    expect(counts.stdout).toBe(`->  ${NODE}: OK\n        active 1, reserved 2\n\n1 node online.\n`);
    expect(JSON.parse(json.stdout)).toEqual({ [NODE]: ['ctlapp.add', 'ctlapp.mul [rate_limit=10/m]'] });
    expect(control).toMatchObject({
      code: 0,
      stdout: `->  ${NODE}: OK\n        new rate limit set successfully\n\n1 node online.\n`,
    });
    expect(target.calls).toContainEqual(['rateLimit', 'ctlapp.add', '10/m']);
    expect(nobody.code).toBe(69);
    expect(nobody.stderr).toContain('No nodes replied within time constraint');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('control rate_limit needs <task> <rate>');
  }, 30_000);
});
