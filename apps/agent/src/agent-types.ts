import type { Logger } from '@celeriac/logger';
import type { CrashBackoffOptions } from './crash-backoff.js';
import type { AgentError } from './errors.js';
import type { ReplicaExit } from './replica.js';

/** Options of an agent. */
export interface AgentOptions {
  centerUrl: string;
  node: string;
  token: string;
  /** PEM CAs an https:// center is verified against (system CAs when absent), and where they came from. */
  centerCa?: { pem: string | Buffer; source: string };
  stateDir: string;
  logger: Logger;
  /** `host:port` for /healthz and /metrics; port 0 picks a free one; omit for none. */
  metricsListen?: string;
  /** Host name used in worker names (`<node>.<program>.<replica>@<host>`). */
  host?: string;
  /** Directory relative app paths and commands resolve against; defaults to the current one. */
  workDir?: string;
  /** Status heartbeat period, announced to the center (it marks the node stale after 3 missed ones). */
  heartbeatMs?: number;
  longPollWaitSec?: number;
  /** How long the first config request may take before the agent starts from its last-known-good copy. */
  startupFetchTimeoutMs?: number;
  pythonPath?: string;
  nodePath?: string;
  celeriacBin?: string;
  crashBackoff?: CrashBackoffOptions;
  /** Debounce of the config file watcher. */
  watchDebounceMs?: number;
  /** How often the workers are probed with `inspect ping` (their `responding` status); default 5 s. */
  workerProbeMs?: number;
}

/**
 * Agent life cycle, every transition logged as `agent.state` with `from`, `to` and `reason`:
 * - `created` → `starting` (start()) → `running`, or `degraded` when the center cannot be reached
 *   (programs keep running on the config in force; back to `running` once it answers again);
 * - `stopping` (close()) → `stopped`;
 * - `failed`: start() failed (state dir, metrics port): what it had started is cleaned up, the
 *   error is thrown, and the agent stays failed; fix the cause and build a new one.
 */
export type AgentState = 'created' | 'starting' | 'running' | 'degraded' | 'stopping' | 'stopped' | 'failed';

/** What an agent tells its listeners. */
export type AgentEvent =
  | { type: 'state'; state: AgentState }
  | {
      type: 'applied';
      revision: number;
      result: 'ok' | 'failed' | 'invalid';
      message: string;
      /** Why it failed or was refused, each with a stable `AGENT_` code; empty when ok. */
      errors: AgentError[];
    }
  | { type: 'drift'; program: string; ok: boolean; message: string }
  | { type: 'exit'; exit: ReplicaExit };
