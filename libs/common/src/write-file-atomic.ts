import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** How `writeFileAtomic` writes. */
export interface AtomicWriteOptions {
  /** File mode of the new file; 0o600 unless told. */
  mode?: number;
  /**
   * fsync the file and its directory so that the new content survives a power cut (default true).
   * Files that only matter while their writer lives (ready files) can skip it: rename alone makes
   * them appear whole.
   */
  durable?: boolean;
  /** Create the parent directory first (default false). */
  createDir?: boolean;
}

/**
 * Replaces `file` so that a reader, or a crash, sees either the old or the new content, never a
 * mix: write a temp file beside it, (fsync it,) rename it over the target, (fsync the directory).
 */
export async function writeFileAtomic(
  file: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = path.dirname(file);
  if (options.createDir) await mkdir(dir, { recursive: true });
  const tmp = tempFileName(file);
  const handle = await open(tmp, 'w', options.mode ?? 0o600);
  try {
    await handle.writeFile(content);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (durable) await syncDirectory(dir);
}

/** Synchronous twin of `writeFileAtomic`, for records that must be on disk before the next step (child pids). */
export function writeFileAtomicSync(file: string, content: string, mode = 0o600): void {
  const tmp = tempFileName(file);
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
  const dirFd = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** fsyncs a directory so that a rename or a new file in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp files start with a dot and end in `.tmp`, so that file watchers can ignore them (`isAtomicTempFile`). */
function tempFileName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** True for the temp files `writeFileAtomic` leaves while it writes. */
export function isAtomicTempFile(file: string): boolean {
  const base = path.basename(file);
  return base.startsWith('.') && base.endsWith('.tmp');
}
