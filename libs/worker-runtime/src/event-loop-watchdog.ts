import { Worker as Thread } from 'node:worker_threads';

const HEARTBEAT_MS = 200;
const GRACE_MS = 1000;

// Runs in a worker thread, so it keeps ticking while the main event loop is blocked.
const THREAD_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const shared = new BigInt64Array(workerData.buffer);
setInterval(() => {
  const limitMs = Number(Atomics.load(shared, 1));
  if (limitMs <= 0) return;
  const stuckMs = Date.now() - Number(Atomics.load(shared, 0));
  if (stuckMs > limitMs + ${GRACE_MS}) {
    const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, name: workerData.name,
      event: 'worker.watchdog_exit', stuck_ms: stuckMs, hard_time_limit_ms: limitMs,
      msg: 'The event loop has been blocked longer than the largest hard time limit (a synchronous task cannot be interrupted); killing the process so that its supervisor restarts it' });
    try { fs.writeSync(2, line + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }
}, ${HEARTBEAT_MS});
`;

/**
 * A synchronous task that blocks the event loop past its hard time limit cannot be interrupted in
 * its own thread. This watchdog thread sees the main loop's heartbeat stop; once it has been
 * stuck longer than the largest hard limit in use (plus a second of grace) it logs the reason to
 * stderr and kills the process (SIGKILL), so the supervisor restarts it and the held messages
 * return (agent restore, or the visibility timeout).
 */
export class EventLoopWatchdog {
  private readonly shared = new BigInt64Array(new SharedArrayBuffer(16));
  private thread: Thread | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private limitMs = 0;

  constructor(private readonly name: string) {}

  /** Raises the watched limit to `limitMs` (starts the thread the first time). */
  watch(limitMs: number): void {
    if (limitMs <= this.limitMs) return;
    this.limitMs = limitMs;
    if (this.thread === null) {
      Atomics.store(this.shared, 0, BigInt(Date.now()));
      this.thread = new Thread(THREAD_SOURCE, {
        eval: true,
        workerData: { buffer: this.shared.buffer, name: this.name },
      });
      this.thread.unref();
      this.heartbeat = setInterval(() => Atomics.store(this.shared, 0, BigInt(Date.now())), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    Atomics.store(this.shared, 1, BigInt(Math.ceil(limitMs)));
  }

  /** Stops the thread and the heartbeat; idempotent. */
  async close(): Promise<void> {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const thread = this.thread;
    this.thread = null;
    if (thread !== null) await thread.terminate();
  }
}
