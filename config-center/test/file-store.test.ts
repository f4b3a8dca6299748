import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CenterStartError, FileStore, type RevisionKind } from '../src/index.js';
import { captureLogger } from './support/center-harness.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-file-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const draft = (value: number) => ({
  layer: 'defaults',
  kind: 'put' as RevisionKind,
  author: { token_id: 't', name: 'test', role: 'admin' as const },
  time: new Date().toISOString(),
  message: `v${value}`,
  diff: [],
  document: { celery: { result_expires: value } },
});

async function storeWith(dir: string, count: number, snapshotEvery = 100): Promise<void> {
  const store = new FileStore({ dataDir: dir, logger: captureLogger([]), snapshotEvery });
  await store.start();
  for (let i = 0; i < count; i++) {
    const result = await store.append(draft(i), { layerRevision: i, headRevision: i });
    expect(result.ok).toBe(true);
  }
  await store.close();
}

describe('FileStore', () => {
  it('cuts off a torn last record and appends after it', async () => {
    const dir = tempDir();
    await storeWith(dir, 3);
    const log = path.join(dir, 'revisions.log');
    appendFileSync(log, readFileSync(log, 'utf8').split('\n')[2]?.slice(0, 40) as string);
    const lines: string[] = [];
    const store = new FileStore({ dataDir: dir, logger: captureLogger(lines) });
    await store.start();
    expect((await store.readRevisions(0)).map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(lines.join('')).toContain('center.store_torn_tail');
    expect((await store.append(draft(9), { layerRevision: 3, headRevision: 3 })).ok).toBe(true);
    await store.close();
    const reopened = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    await reopened.start();
    expect((await reopened.readRevisions(2)).map((r) => r.document)).toEqual([
      { celery: { result_expires: 2 } },
      { celery: { result_expires: 9 } },
    ]);
    await reopened.close();
  });

  it('refuses to start on a log damaged in the middle instead of dropping good revisions', async () => {
    const dir = tempDir();
    await storeWith(dir, 3);
    const log = path.join(dir, 'revisions.log');
    const records = readFileSync(log, 'utf8').split('\n');
    records[1] = (records[1] as string).replace('v1', 'vX');
    writeFileSync(log, records.join('\n'));
    const store = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    const error = await store.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CenterStartError);
    expect((error as CenterStartError).code).toBe('CENTER_STORE_CORRUPT');
    expect((error as CenterStartError).message).toContain('revision 2');
    await store.close();
  });

  it('refuses a second center on a data directory in use, and compare-and-append refuses stale writes', async () => {
    const dir = tempDir();
    await storeWith(dir, 1);
    writeFileSync(path.join(dir, 'center.lock'), String(process.ppid));
    const second = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    await expect(second.start()).rejects.toMatchObject({ code: 'CENTER_DATA_DIR_LOCKED' });
    await second.close();
    rmSync(path.join(dir, 'center.lock'));
    const store = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    await store.start();
    expect(await store.append(draft(5), { layerRevision: 0, headRevision: 1 })).toMatchObject({
      ok: false,
      reason: 'layer_conflict',
      currentLayerRevision: 1,
    });
    expect(await store.append(draft(5), { layerRevision: 1, headRevision: 0 })).toMatchObject({
      ok: false,
      reason: 'head_moved',
    });
    await store.close();
    await store.close();
  });

  it('refuses a log that lost revisions its snapshot says were written', async () => {
    const dir = tempDir();
    await storeWith(dir, 5, 2);
    expect(JSON.parse(readFileSync(path.join(dir, 'snapshot.json'), 'utf8'))).toEqual({
      head: 4,
      layers: { defaults: 4 },
    });
    const log = path.join(dir, 'revisions.log');
    const records = readFileSync(log, 'utf8').split('\n');
    writeFileSync(log, `${records.slice(0, 3).join('\n')}\n`);
    const store = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    await expect(store.start()).rejects.toMatchObject({ code: 'CENTER_STORE_CORRUPT' });
    await store.close();
    writeFileSync(log, records.join('\n'));
    const intact = new FileStore({ dataDir: dir, logger: captureLogger([]) });
    await intact.start();
    expect(await intact.readRevisions(0)).toHaveLength(5);
    await intact.close();
  });
});
