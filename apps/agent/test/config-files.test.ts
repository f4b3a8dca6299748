import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isTempFile, writeFileAtomic, writeFileAtomicSync } from '../src/config-files.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-files-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes the content, replaces an existing file and leaves no temp file behind', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, '{"a":1}\n');
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    writeFileAtomicSync(file, 'sync');
    expect(readFileSync(file, 'utf8')).toBe('sync');
    expect(readdirSync(dir)).toEqual(['config.json']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a concurrent reader only ever sees a whole old or a whole new file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'big.json');
    const a = `${'a'.repeat(256 * 1024)}\n`;
    const b = `${'b'.repeat(256 * 1024)}\n`;
    await writeFileAtomic(file, a);
    // The reader is another process, so it reads while this one writes.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');let bad=0,n=0;const end=Date.now()+1500;
         while(Date.now()<end){const t=fs.readFileSync(${JSON.stringify(file)},'utf8');n++;
         if(!(t.length===${a.length}&&(/^a+\\n$/.test(t)||/^b+\\n$/.test(t))))bad++;}
         process.stdout.write(JSON.stringify({bad,n}));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise((resolve) => reader.once('exit', resolve));
    let writes = 0;
    const end = Date.now() + 1200;
    while (Date.now() < end) {
      await writeFileAtomic(file, writes % 2 === 0 ? b : a);
      writes++;
    }
    await exited;
    const result = JSON.parse(out) as { bad: number; n: number };
    expect(writes).toBeGreaterThan(10);
    expect(result.n).toBeGreaterThan(10);
    expect(result.bad).toBe(0);
    expect(readdirSync(dir).filter(isTempFile)).toEqual([]);
  });

  it('fails with the OS reason when the directory does not exist, leaving nothing behind', async () => {
    const dir = tempDir();
    await expect(writeFileAtomic(path.join(dir, 'missing', 'x.json'), 'x')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('recognises its own temp files', () => {
    expect(isTempFile('/x/.config.json.123.abcd1234.tmp')).toBe(true);
    expect(isTempFile('/x/config.json')).toBe(false);
  });
});
