import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content, never a
 * mix: write a temp file beside it, fsync it, rename it over the target, then fsync the directory
 * so that the rename itself survives a power cut.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = tempName(file);
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Synchronous twin of `writeFileAtomic`, for records that must be on disk before the next step (child pids). */
export function writeFileAtomicSync(file: string, content: string, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = tempName(file);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Temp files start with a dot and end in `.tmp` so that the config watcher can ignore them. */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** True for the agent's own temp files (see `writeFileAtomic`). */
export function isTempFile(file: string): boolean {
  const base = path.basename(file);
  return base.startsWith('.') && base.endsWith('.tmp');
}

/** `<stateDir>/programs/<name>`: where a program's config file, ready files and logs live. */
export function programDir(stateDir: string, program: string): string {
  return path.join(stateDir, 'programs', program);
}
