export { Agent } from './agent.js';
export type { AgentEvent, AgentOptions, AgentState } from './agent-types.js';
export { type BackoffOptions, backoffDelayMs } from './backoff.js';
export { CenterClient, type CenterClientOptions, type ServedConfig, type StatusSender } from './center-client.js';
export { type ChildRecord, ChildRegistry } from './child-registry.js';
export { ConfigPoller, type ConfigPollerOptions } from './config-poller.js';
export { ConfigWatcher, type DriftEvent } from './config-watcher.js';
export { CrashBackoff, type CrashBackoffOptions, type CrashDecision } from './crash-backoff.js';
export {
  AGENT_ERROR_CODES,
  AgentError,
  type AgentErrorCode,
  AgentIllegalStateError,
  AgentStateDirError,
  AgentUsageError,
  CenterRejectedError,
  CenterUnreachableError,
  ConfigInvalidError,
  ConfigRenderError,
  ProgramNotReadyError,
  ProgramSpawnError,
} from './errors.js';
export { type KnownGoodConfig, LastKnownGood } from './last-known-good.js';
export {
  type AgentMetrics,
  buildMetricsServer,
  type MetricsResponse,
  MetricsServer,
  metricsResponse,
} from './metrics-server.js';
export { OwnerRestorer } from './owner-restorer.js';
export { isGroupAlive, processStartTicks, signalGroup, signalProcess } from './process-group.js';
export { Program, type ProgramDeps, type ProgramOutcome, type ProgramSpec, type ReplicaExit } from './program.js';
export { programDir } from './program-dir.js';
export {
  buildLaunch,
  configFilePath,
  fileHash,
  type Launch,
  type LaunchContext,
  type Readiness,
  type RenderedConfig,
  renderProgramConfig,
} from './program-launch.js';
export { type PreparedProgram, prepareProgram, prepareRevision } from './program-spec.js';
export { type ProgramFailure, ProgramSupervisor, type ProgramSupervisorOptions } from './program-supervisor.js';
export { isPythonIdentifier, pythonLiteral } from './python-literal.js';
export { type ReadinessResult, waitForReadiness } from './readiness.js';
export { type CeleryconfigOrigin, renderCeleryconfig } from './render-celeryconfig.js';
export { renderArgv, renderTemplate } from './render-command-config.js';
export { Replica, type ReplicaLaunch, type ReplicaRole, spawnReplica } from './replica.js';
export { StatusReporter, type StatusReporterOptions } from './status-reporter.js';
