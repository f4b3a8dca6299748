import type { Program, ProgramKind } from '@celeriac/config-schema';

/** Program kinds the agent can supervise. */
export type { ProgramKind };

/**
 * A program as the agent reads it from a validated effective config: config-schema's `Program`
 * with the durations optional (the agent falls back to their defaults) and unknown fields kept.
 */
export type ProgramDefinition = Omit<Program, 'stop_timeout' | 'ready_timeout'> &
  Partial<Pick<Program, 'stop_timeout' | 'ready_timeout'>> & { [other: string]: unknown };

/** A node's effective config as the agent uses it. */
export interface NodeConfig {
  groups?: string[];
  celery: Record<string, unknown>;
  programs: Record<string, ProgramDefinition>;
  [other: string]: unknown;
}

/** Per-program state reported to the center. */
export type ProgramState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'fatal';

/** How the last process of a program ended. */
export interface LastExit {
  code: number | null;
  signal: string | null;
  at: string;
}

/** One program in the status body (`POST /v1/nodes/<node>/status`). */
export interface ProgramStatus {
  kind: ProgramKind;
  state: ProgramState;
  pids: number[];
  restarts: number;
  config_hash: string;
  last_exit: LastExit | null;
}

/** The status body of `POST /v1/nodes/<node>/status` (docs/contracts.md). */
export interface NodeStatus {
  applied_revision: number | null;
  attempted_revision?: number;
  apply_result: 'ok' | 'failed' | 'invalid' | 'pending';
  message?: string;
  drift?: boolean;
  programs: Record<string, ProgramStatus>;
  agent?: { pid: number; started_at: string; version: string };
}
