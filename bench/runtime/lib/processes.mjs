// Spawned programs with collected output, and what /proc says about their CPU and memory.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100;

/** A spawned program; `waitFor(pattern)` resolves once its output matches. */
export class Program {
  constructor(label, command, args, options = {}) {
    this.label = label;
    this.spawnedAt = performance.now();
    this.text = '';
    this.child = spawn(command, args, {
      ...options,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.waiters = new Set();
    const collect = (chunk) => {
      this.text += chunk.toString('utf8');
      if (this.text.length > 1_000_000) this.text = this.text.slice(-500_000);
      for (const check of this.waiters) check();
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        for (const check of this.waiters) check();
        resolve({ code, signal });
      });
    });
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with performance.now() when the output first matches `pattern`. */
  waitFor(pattern, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms; output:\n${this.text.slice(-3000)}`));
      }, timeoutMs);
      const check = () => {
        if (pattern.test(this.text)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(performance.now());
        } else if (!this.running) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`${this.label} exited before ${pattern}; output:\n${this.text.slice(-3000)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** TERM, then KILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000) {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Runs a program to completion and returns its stdout; throws with its output on failure. */
export function runToEnd(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...options,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${err.slice(-3000)}`));
    });
  });
}

function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** The pid and its direct children (a prefork pool), read from /proc. */
export function processTree(pid) {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[1]) === pid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** user + system CPU seconds of the given processes (read /proc once per pid). */
export function cpuSec(pids) {
  let ticks = 0;
  for (const p of pids) {
    try {
      const f = statFields(p);
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended while we looked
    }
  }
  return ticks / CLOCK_TICKS_PER_SEC;
}

/** Resident memory (MB) of the given processes. */
export function rssMb(pids) {
  let kb = 0;
  for (const p of pids) {
    try {
      const match = readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      kb += match ? Number(match[1]) : 0;
    } catch {
      // the process ended while we looked
    }
  }
  return kb / 1024;
}
