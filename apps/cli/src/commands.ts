/** A sub-command module: `run` gets the arguments after the command name and resolves to the exit code. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

/** Every `celeriac` sub-command; each lives in its own file under `commands/`. */
export const COMMANDS: Record<string, CommandEntry> = {
  worker: {
    summary: 'run a task worker (-A module -Q queues -c concurrency)',
    load: () => import('./commands/worker.js'),
  },
  center: {
    summary: 'run the config center (HTTP API, revisions, long-poll)',
    load: () => import('./commands/center.js'),
  },
  agent: { summary: 'run the supervisor agent of one node', load: () => import('./commands/agent.js') },
  config: {
    summary: 'read and change the central config (get, set, apply, edit, diff, history, rollback)',
    load: () => import('./commands/config.js'),
  },
  nodes: { summary: 'show every node and its state', load: () => import('./commands/nodes.js') },
  rollout: {
    summary: 'watch and steer progressive rollouts (status, pause, resume, promote, abort)',
    load: () => import('./commands/rollout.js'),
  },
  inspect: {
    summary: 'ask the workers (celery inspect): ping, active, reserved, stats, counts...',
    load: () => import('./commands/inspect.js'),
  },
  control: {
    summary: 'steer the workers (celery control): rate_limit, revoke, add_consumer, shutdown...',
    load: () => import('./commands/control.js'),
  },
  'dead-letter': {
    summary: 'look at and replay dead-lettered messages: list, show <n>, requeue <n|--all>, purge',
    load: () => import('./commands/dead-letter.js'),
  },
  up: {
    summary: 'start a whole local fleet: redis, center, agent and a demo worker',
    load: () => import('./commands/up.js'),
  },
};

/** The top-level help text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)} ${c.summary}`);
  return `Usage: celeriac <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "celeriac <command> --help" for the options of a command.\n`;
}
