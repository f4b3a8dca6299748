import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '@celeriac/common';
import {
  type EffectiveConfig,
  type ProgramChange,
  type ProgramStatus,
  planProgramChanges,
  type RunningProgram,
} from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { ChildRegistry } from './child-registry.js';
import type { DriftEvent } from './config-watcher.js';
import type { CrashBackoffOptions } from './crash-backoff.js';
import { healthFileOf } from './health-file.js';
import type { Leftovers } from './leftovers.js';
import { Program, type ProgramOutcome, type ReplicaExit } from './program.js';
import { programDir } from './program-dir.js';
import type { RenderedConfig } from './program-launch.js';
import type { PreparedProgram } from './program-spec.js';
import type { ProbeTarget } from './worker-probe.js';

/** A program that failed to apply, with its error (stable code) and message. */
export interface ProgramFailure {
  program: string;
  message: string;
  error: NonNullable<ProgramOutcome['error']>;
}

/** Dependencies of the supervisor. */
export interface ProgramSupervisorOptions {
  logger: Logger;
  stateDir: string;
  registry: ChildRegistry;
  /** Told what the agent writes, so that its own writes never count as hand edits. */
  watcher: { expect(program: string, file: string, hash: string): void; forget(file: string): void };
  crashBackoff?: CrashBackoffOptions | undefined;
  /** Processes of a previous agent run, adopted by the programs that start exactly them. */
  leftovers?: Leftovers;
  onChange(): void;
  onExit(exit: ReplicaExit): void;
}

interface ProgramEntry {
  program: Program;
  /** The whole effective config the program's processes were started from. */
  applied: EffectiveConfig;
  /** The config file its processes read. */
  rendered: RenderedConfig;
  /** Its processes run on a hand edit of that file. */
  drift: boolean;
}

/**
 * The programs of one node: carries out the restart decision of a revision (`planProgramChanges`)
 * on them, applies hand edits of their config files, and reports their status. The agent decides
 * when; this decides nothing on its own and keeps each program's last applied config.
 */
export class ProgramSupervisor {
  private readonly programs = new Map<string, ProgramEntry>();

  constructor(private readonly options: ProgramSupervisorOptions) {}

  /** Number of programs it runs. */
  get size(): number {
    return this.programs.size;
  }

  /** True when a program runs on a hand-edited config file. */
  get drift(): boolean {
    return [...this.programs.values()].some((e) => e.drift);
  }

  /** What applying `config` does to each program, and why. */
  plan(config: EffectiveConfig, prepared: ReadonlyMap<string, PreparedProgram>): Record<string, ProgramChange> {
    const running: Record<string, RunningProgram> = {};
    for (const [name, entry] of this.programs) {
      running[name] = {
        config: entry.applied,
        state: entry.program.state,
        drift: entry.drift,
        configHash: entry.rendered.hash,
      };
    }
    const configHashes = Object.fromEntries([...prepared].map(([name, p]) => [name, p.rendered.hash]));
    return planProgramChanges({ after: config, running, configHashes });
  }

  /**
   * Writes every program's config file, then carries out `plan` on all programs at once. A
   * program that cannot restart keeps its old processes and gets its old file back.
   */
  async apply(
    config: EffectiveConfig,
    prepared: ReadonlyMap<string, PreparedProgram>,
    plan: Readonly<Record<string, ProgramChange>>,
  ): Promise<ProgramFailure[]> {
    for (const [name, { rendered }] of prepared) await this.writeConfig(name, rendered);
    this.options.onChange();
    const failures: ProgramFailure[] = [];
    await Promise.all(
      Object.entries(plan).map(async ([name, change]) => {
        const outcome = await this.execute(name, change, prepared.get(name), config);
        if (!outcome.ok && outcome.error) {
          failures.push({ program: name, message: outcome.message ?? outcome.error.message, error: outcome.error });
        }
      }),
    );
    return failures;
  }

  /** A hand edit of a program's config file: restarts the program onto it (reported as drift). */
  async applyDrift(event: DriftEvent): Promise<ProgramOutcome | undefined> {
    const entry = this.programs.get(event.program);
    if (!entry) return undefined;
    entry.drift = true;
    this.options.onChange();
    const outcome = await entry.program.rollingRestart({ ...entry.program.currentSpec, configHash: event.hash });
    // The processes now run on the edited file: the next revision compares against it.
    if (outcome.ok) entry.rendered = { file: event.file, content: event.content, hash: event.hash };
    return outcome;
  }

  /** Every program's entry of the node status. */
  statuses(): Record<string, ProgramStatus> {
    const statuses: Record<string, ProgramStatus> = {};
    for (const [name, entry] of this.programs) statuses[name] = entry.program.status();
    return statuses;
  }

  /** The worker processes serving now (ready celeriac and celery workers), for the pidbox probe. */
  probeTargets(): ProbeTarget[] {
    const targets: ProbeTarget[] = [];
    for (const [program, entry] of this.programs) {
      const spec = entry.program.currentSpec;
      const kind = spec.definition.kind;
      if (kind !== 'celeriac-worker' && kind !== 'celery-worker') continue;
      for (const replica of entry.program.serving()) {
        const brokerUrl = replica.brokerUrl ?? spec.brokerUrl;
        const name = replica.launch.workerName;
        if (replica.state === 'running' && name && brokerUrl)
          targets.push({
            program,
            name,
            brokerUrl,
            brokerSettings: spec.brokerSettings,
            kind,
            pid: replica.pid,
            healthFile: healthFileOf(replica.launch),
            sendsTaskEvents: spec.sendsTaskEvents,
          });
      }
    }
    return targets;
  }

  /** Stops every program gracefully. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.programs.values()].map((e) => e.program.close()));
  }

  /** KILLs every program's processes now. */
  killAll(): void {
    for (const entry of this.programs.values()) entry.program.killAll();
  }

  private async execute(
    name: string,
    change: ProgramChange,
    next: PreparedProgram | undefined,
    config: EffectiveConfig,
  ): Promise<ProgramOutcome> {
    const entry = this.programs.get(name);
    if (change.action === 'stop' || !next) {
      if (!entry) return { ok: true };
      this.programs.delete(name);
      this.options.watcher.forget(entry.rendered.file);
      await entry.program.close();
      this.options.onChange();
      return { ok: true };
    }
    if (!entry) {
      const program = new Program(next.spec, {
        logger: this.options.logger,
        registry: this.options.registry,
        crashBackoff: this.options.crashBackoff,
        ...(this.options.leftovers ? { leftovers: this.options.leftovers } : {}),
        onChange: () => this.options.onChange(),
        onExit: (exit) => this.options.onExit(exit),
      });
      this.programs.set(name, { program, applied: config, rendered: next.rendered, drift: false });
      return program.start();
    }
    if (change.action === 'none') {
      entry.program.adopt(next.spec);
      entry.applied = config;
      entry.rendered = next.rendered;
      return { ok: true };
    }
    if (change.action === 'scale') {
      const outcome = await entry.program.scale(next.spec);
      entry.applied = config;
      entry.rendered = next.rendered;
      return outcome;
    }
    const outcome = await entry.program.rollingRestart(next.spec);
    if (outcome.ok) {
      entry.applied = config;
      entry.rendered = next.rendered;
      entry.drift = false;
    } else {
      // The old processes keep running: put their config file back so that disk matches them.
      await this.writeConfig(name, entry.rendered);
    }
    return outcome;
  }

  private async writeConfig(name: string, rendered: RenderedConfig): Promise<void> {
    await mkdir(programDir(this.options.stateDir, name), { recursive: true, mode: 0o700 });
    this.options.watcher.expect(name, rendered.file, rendered.hash);
    await writeFileAtomic(rendered.file, rendered.content);
  }
}
