export { parseWorkerArgs, WORKER_USAGE, type WorkerCliOptions } from './cli-options.js';
export { WorkerCliError, type WorkerCliErrorCode } from './errors.js';
export { type LoadedApp, loadApp } from './load-app.js';
export { announceReady, type ReadyInfo } from './readiness.js';
export { runWorkerCli } from './run-worker-cli.js';
export { installCrashHandlers, installShutdownSignals, type Stoppable } from './shutdown-signals.js';
