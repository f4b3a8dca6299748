import {
  celeryWorkerSendsTaskEvents,
  type EffectiveConfig,
  type Program as ProgramDefinition,
  parseDuration,
} from '@celeriac/config-schema';
import {
  buildLaunch,
  type Launch,
  type LaunchContext,
  type RenderedConfig,
  renderProgramConfig,
} from './program-launch.js';

/** What a program runs with: its definition, durations, config hash and how to launch a replica. */
export interface ProgramSpec {
  name: string;
  definition: ProgramDefinition;
  replicas: number;
  stopTimeoutMs: number;
  readyTimeoutMs: number;
  configHash: string;
  /** Broker URL whose held-task records a dead worker's tasks are restored from. */
  brokerUrl?: string;
  /** The effective Celery settings the program runs with (the agent's broker connections for it read `broker_use_ssl` etc. from them). */
  brokerSettings?: Readonly<Record<string, unknown>>;
  /** celery-worker only: false when the layers set `worker_send_task_events: false` (no outcomes to measure). */
  sendsTaskEvents?: boolean;
  /** `generation` counts the processes this program started (1, 2, ...), for names that must differ per process. */
  launch(replica: number, generation: number): Launch;
}

/** A program of a revision, ready to run: its spec and its rendered config file. */
export interface PreparedProgram {
  spec: ProgramSpec;
  rendered: RenderedConfig;
}

const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;

/**
 * Renders a program's config file and checks its command line for one revision. Throws
 * `ConfigRenderError` when a template names something that does not exist, so that such a
 * revision is refused before any process is touched.
 */
export function prepareProgram(
  name: string,
  def: ProgramDefinition,
  config: EffectiveConfig,
  ctx: LaunchContext,
  revision: number,
): PreparedProgram {
  const rendered = renderProgramConfig(name, def, config, ctx, revision);
  // Render a replica's command line now so that a template error refuses the revision.
  buildLaunch(name, def, 1, config, ctx);
  const brokerUrl = typeof config.celery.broker_url === 'string' ? config.celery.broker_url : undefined;
  const spec: ProgramSpec = {
    name,
    definition: def,
    replicas: def.replicas ?? 1,
    stopTimeoutMs: durationMs(def.stop_timeout, DEFAULT_STOP_TIMEOUT_MS),
    readyTimeoutMs: durationMs(def.ready_timeout, DEFAULT_READY_TIMEOUT_MS),
    configHash: rendered.hash,
    launch: (replica, generation) => buildLaunch(name, def, replica, config, ctx, generation),
  };
  if (brokerUrl) {
    spec.brokerUrl = brokerUrl;
    spec.brokerSettings = config.celery;
  }
  if (def.kind === 'celery-worker') spec.sendsTaskEvents = celeryWorkerSendsTaskEvents(config.celery);
  return { spec, rendered };
}

/** Every program of a revision prepared (see `prepareProgram`). */
export function prepareRevision(
  config: EffectiveConfig,
  ctx: LaunchContext,
  revision: number,
): Map<string, PreparedProgram> {
  const prepared = new Map<string, PreparedProgram>();
  for (const [name, def] of Object.entries(config.programs)) {
    prepared.set(name, prepareProgram(name, def, config, ctx, revision));
  }
  return prepared;
}

function durationMs(value: string | number | undefined, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value);
}
