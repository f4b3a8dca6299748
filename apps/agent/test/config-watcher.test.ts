import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '@celeriac/common';
import { createLogger } from '@celeriac/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher, type DriftEvent } from '../src/config-watcher.js';
import { fileHash } from '../src/program-launch.js';

const logger = createLogger({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const root = mkdtempSync(path.join(tmpdir(), 'celeriac-watch-'));
  const dir = path.join(root, 'programs', 'w');
  mkdirSync(dir, { recursive: true });
  const events: DriftEvent[] = [];
  const watcher = new ConfigWatcher(path.join(root, 'programs'), {
    logger,
    debounceMs: 50,
    onDrift: (e) => events.push(e),
  });
  await watcher.start();
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  cleanups.push(() => watcher.close());
  return { dir, events, watcher };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ConfigWatcher', () => {
  it('ignores the agent’s own writes and reports a hand edit once, debounced', async () => {
    const { dir, events, watcher } = await setup();
    const file = path.join(dir, 'config.json');
    const mine = '{"task_serializer":"json"}\n';
    watcher.expect('w', file, fileHash(mine));
    await writeFileAtomic(file, mine);
    await new Promise((r) => setTimeout(r, 400));
    expect(events).toEqual([]);

    // A burst of hand edits gives one event with the last content's hash.
    writeFileSync(file, '{"task_serializer":"msgpack"');
    writeFileSync(file, '{"task_serializer":"msgpack"}\n');
    await until(() => events.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([
      {
        program: 'w',
        file,
        hash: fileHash('{"task_serializer":"msgpack"}\n'),
        content: '{"task_serializer":"msgpack"}\n',
      },
    ]);

    // The edited content is now the expected one; the agent writing new content it expects is quiet.
    const next = '{"task_serializer":"json","x":1}\n';
    watcher.expect('w', file, fileHash(next));
    await writeFileAtomic(file, next);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toHaveLength(1);
  });

  it('does not report files it was not told about, temp files, or after close', async () => {
    const { dir, events, watcher } = await setup();
    writeFileSync(path.join(dir, 'other.txt'), 'x');
    const file = path.join(dir, 'config.json');
    watcher.expect('w', file, fileHash('a'));
    await watcher.close();
    writeFileSync(file, 'b');
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });
});
