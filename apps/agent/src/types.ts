/** Program kinds the agent can supervise. */
export type ProgramKind = 'celeriac-worker' | 'celery-worker' | 'command';

/**
 * A program as the agent reads it from a validated effective config (see programSchema in
 * @celeriac/config-schema); only the fields the agent acts on are typed here.
 */
export interface ProgramDefinition {
  kind: ProgramKind;
  app?: string;
  queues?: string[];
  replicas: number;
  concurrency?: number;
  env?: Record<string, string>;
  stop_timeout?: string | number;
  ready_timeout?: string | number;
  command?: string[];
  config_template?: string;
  config_file?: string;
  loglevel?: string;
  [other: string]: unknown;
}

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
