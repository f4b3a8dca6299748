import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAtomicTempFile, writeFileAtomic, writeFileAtomicSync } from '../src/index.js';

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temp file, with mode 0600 by default', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'atomic-'));
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(dir)).toEqual(['a.json']);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('creates the directory when asked, and writes without fsync when not durable', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'atomic-'));
    const file = path.join(dir, 'sub', 'ready.json');
    await writeFileAtomic(file, 'x', { createDir: true, durable: false, mode: 0o644 });
    expect(await readFile(file, 'utf8')).toBe('x');
    expect((await stat(file)).mode & 0o777).toBe(0o644);
  });

  it('fails without leaving a temp file when the target is a directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'atomic-'));
    await expect(writeFileAtomic(dir, 'x')).rejects.toThrow();
    expect(
      (await readdir(path.dirname(dir))).filter((f) => f.includes(path.basename(dir)) && f.endsWith('.tmp')),
    ).toEqual([]);
  });

  it('has a synchronous twin, and names its temp files so watchers can skip them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'atomic-'));
    const file = path.join(dir, 'pids.json');
    writeFileAtomicSync(file, '[1]');
    expect(await readFile(file, 'utf8')).toBe('[1]');
    expect(isAtomicTempFile(path.join(dir, '.pids.json.12.ab.tmp'))).toBe(true);
    expect(isAtomicTempFile(file)).toBe(false);
  });
});
