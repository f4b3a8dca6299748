import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '@celeriac/common';

/** Sends `signal` to every process of a process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Sends `signal` to one process; false when it no longer exists. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** True while at least one process of the group is alive. */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface ProcStat {
  pgid: number;
  /** Start time in clock ticks since boot: with the pid it identifies a process even after pid reuse. */
  startTicks: string;
  state: string;
}

/** Reads /proc/<pid>/stat (Linux); null when the process does not exist. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const pgid = Number(rest[2]);
  const startTicks = rest[19] ?? '';
  return { pgid, startTicks, state };
}

/** The start time of a live process (see `ProcStat.startTicks`), or null. */
export function processStartTicks(pid: number): string | null {
  const stat = readProcStat(pid);
  return stat && stat.state !== 'Z' ? stat.startTicks : null;
}

/** Pids of live processes whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgid === pgid && stat.state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** Resolves once no process of the group is left, or false after `timeoutMs`. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (groupMembers(pgid).length === 0) return true;
    await sleep(20);
  }
  return groupMembers(pgid).length === 0;
}

/** Resolves true once process `pid` (started at `startTicks`) is gone or a zombie, or false after `timeoutMs`. */
export async function waitProcessGone(pid: number, startTicks: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processStartTicks(pid) !== startTicks) return true;
    await sleep(20);
  }
  return processStartTicks(pid) !== startTicks;
}
