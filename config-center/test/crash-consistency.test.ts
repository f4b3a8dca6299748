import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRevisionLog } from '../src/index.js';
import { ADMIN_TOKEN, api } from './support/center-harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHILD = path.join(import.meta.dirname, 'support/center-child.ts');
const ROUNDS = 15;
let dataDir: string;
let child: ChildProcess | undefined;

function startChild(): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir], {
      env: { ...process.env, CELERIAC_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`center did not start in 20 s: ${err}`)), 20_000);
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`center exited with ${code}: ${err}`));
    });
  });
}

function killChild(): Promise<void> {
  const proc = child;
  child = undefined;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

beforeAll(() => {
  // The child runs this package's sources; the libraries it imports run from their builds.
  execFileSync('npx', ['tsc', '-b', 'libs/config-schema', 'libs/logger'], {
    cwd: ROOT,
    stdio: 'ignore',
    timeout: 180_000,
  });
  dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-center-crash-'));
}, 200_000);
afterAll(async () => {
  await killChild();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('file store crash consistency', () => {
  it(`keeps every acknowledged revision whole across ${ROUNDS} kill -9 during a stream of writes`, async () => {
    let lastAcked = { revision: 0, counter: -1 };
    let counter = 0;
    let totalAcked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const url = await startChild();
      // After the restart: every acknowledged write is there and the log parsed without damage.
      const layer = await api(url, 'GET', '/v1/layers/defaults', { token: ADMIN_TOKEN });
      if (lastAcked.revision > 0) {
        expect(layer.status).toBe(200);
        expect(layer.body.revision).toBeGreaterThanOrEqual(lastAcked.revision);
        const acked = await api(url, 'GET', `/v1/revisions/${lastAcked.revision}`, { token: ADMIN_TOKEN });
        expect(acked.body.document.celery.result_expires).toBe(lastAcked.counter);
      }
      let current = layer.status === 200 ? (layer.body.revision as number) : 0;

      const killAfterMs = 30 + Math.floor(Math.random() * 250);
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const value = ++counter;
          try {
            const response = await api(url, current === 0 ? 'PUT' : 'PATCH', '/v1/layers/defaults', {
              token: ADMIN_TOKEN,
              body: { celery: { result_expires: value } },
              headers: current === 0 ? {} : { 'if-match': String(current) },
            });
            if (response.status >= 300) throw new Error(`write refused: ${response.text}`);
            current = response.body.revision;
            lastAcked = { revision: current, counter: value };
            totalAcked++;
          } catch (error) {
            if (stop) return;
            if (error instanceof Error && error.message.startsWith('write refused')) throw error;
            return;
          }
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      await killChild();
      stop = true;
      await writer;

      const parsed = parseRevisionLog(readFileSync(path.join(dataDir, 'revisions.log')));
      expect(parsed.corruptAt).toBeUndefined();
      expect(parsed.revisions.length).toBeGreaterThanOrEqual(lastAcked.revision);
      parsed.revisions.forEach((revision, index) => {
        expect(revision.revision).toBe(index + 1);
        expect(revision.layer).toBe('defaults');
        expect(typeof revision.document).toBe('object');
      });
      if (round === 7) {
        // A write torn by power loss leaves half a record: it must be cut off, not break the start.
        const last = readFileSync(path.join(dataDir, 'revisions.log'), 'utf8').trimEnd().split('\n').pop() as string;
        appendFileSync(path.join(dataDir, 'revisions.log'), last.replace('"revision":', '"revision":9').slice(0, 60));
      }
    }
    const url = await startChild();
    const final = await api(url, 'GET', '/v1/revisions?layer=defaults&limit=1000', { token: ADMIN_TOKEN });
    expect(final.body.head).toBeGreaterThanOrEqual(lastAcked.revision);
    expect(totalAcked).toBeGreaterThan(ROUNDS);
    const write = await api(url, 'PATCH', '/v1/layers/defaults', {
      token: ADMIN_TOKEN,
      body: { celery: { timezone: 'UTC' } },
      headers: { 'if-match': String(final.body.head) },
    });
    expect(write.status).toBe(200);
    expect(write.body.revision).toBe(final.body.head + 1);
    await killChild();
    const parsed = parseRevisionLog(readFileSync(path.join(dataDir, 'revisions.log')));
    expect(parsed.tornBytes).toBe(0);
    expect(parsed.revisions.at(-1)?.revision).toBe(final.body.head + 1);
  }, 120_000);
});
