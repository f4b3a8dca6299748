import { asSignature, type TaskOptions } from '@celeriac/client';
import { exceptionFromResult, type Signature } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { ChordError, NotRegistered } from './celery-exceptions.js';
import { chordErrorFromStack } from './chord-join.js';
import type { TaskContext } from './task-context.js';
import { buildTaskPlan, type TaskPlan } from './task-plan.js';
import type { TaskFn, WorkerApp, WorkerTask } from './worker-app.js';
import type { WorkerCanvas } from './worker-canvas.js';
import type { WorkerSettings } from './worker-settings.js';

/** Names of Celery's built-in tasks (celery/app/builtins.py) that every Celeriac worker serves. */
export const BUILTIN_TASK_NAMES = [
  'celery.map',
  'celery.starmap',
  'celery.chunks',
  'celery.group',
  'celery.chain',
  'celery.chord',
  'celery.chord_unlock',
  'celery.accumulate',
  'celery.backend_cleanup',
] as const;

/** What `celery.backend_cleanup` reports: on Redis there is nothing to clean. */
export const BACKEND_CLEANUP_NOTE =
  'nothing to clean: results on the Redis backend expire by their TTL (result_expires), so celery.backend_cleanup is a no-op here';

function taskName(task: unknown): string {
  if (typeof task === 'string') return task;
  return asSignature(task).task;
}

/** Celery's `NotImplementedError`, raised by `celery.chain`, which is not a real task. */
class PyNotImplementedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotImplementedError';
  }
}

interface Builtin {
  fn: TaskFn;
  options: TaskOptions;
}

/** Calls a task registered in this worker, in this process (what Celery's `task(item)` does in `celery.map`). */
async function callLocal(app: WorkerApp, ctx: TaskContext, name: string, args: unknown[]): Promise<unknown> {
  const task = app.tasks.get(name);
  if (task === undefined) throw new NotRegistered(name);
  const value = task.options.bind === true ? task.fn(ctx, ...args) : task.fn(...args);
  return value === undefined ? null : await value;
}

function spawner(ctx: TaskContext): { id: string; rootId: string } {
  return { id: ctx.id, rootId: ctx.rootId ?? ctx.id };
}

/** The built-in task functions, each closing over the worker's canvas (semantics of celery/app/builtins.py). */
function builtins(canvas: WorkerCanvas, settings: Readonly<Record<string, unknown>>): Map<string, Builtin> {
  const app = canvas.app;
  const retryInterval =
    typeof settings.result_chord_retry_interval === 'number' ? settings.result_chord_retry_interval : 1;
  const map = new Map<string, Builtin>();
  map.set('celery.map', {
    options: { bind: true, params: ['task', 'it'] },
    fn: async (ctx: TaskContext, task: unknown, it: unknown[]) => {
      const name = taskName(task);
      const out: unknown[] = [];
      for (const item of it ?? []) out.push(await callLocal(app, ctx, name, [item]));
      return out;
    },
  });
  map.set('celery.starmap', {
    options: { bind: true, params: ['task', 'it'] },
    fn: async (ctx: TaskContext, task: unknown, it: unknown[][]) => {
      const name = taskName(task);
      const out: unknown[] = [];
      for (const item of it ?? []) out.push(await callLocal(app, ctx, name, Array.isArray(item) ? item : [item]));
      return out;
    },
  });
  map.set('celery.chunks', {
    options: { bind: true, params: ['task', 'it', 'n'] },
    fn: (ctx: TaskContext, task: unknown, it: unknown[][], n: number) => {
      const sig: Signature = {
        task: 'celery.chunks',
        args: [],
        kwargs: { task, it, n },
        options: {},
        subtask_type: 'chunks',
        immutable: true,
      };
      return canvas.apply(sig, [], spawner(ctx));
    },
  });
  map.set('celery.group', {
    options: { bind: true, params: ['tasks', 'result', 'group_id', 'partial_args', 'add_to_parent'] },
    fn: async (ctx: TaskContext, tasks: unknown[], result: unknown, groupId: string, partialArgs: unknown[]) => {
      const sig: Signature = {
        task: 'celery.group',
        args: [],
        kwargs: { tasks: tasks ?? [] },
        options: typeof groupId === 'string' ? { task_id: groupId } : {},
        subtask_type: 'group',
        immutable: false,
      };
      const sent = await canvas.apply(sig, Array.isArray(partialArgs) ? partialArgs : [], spawner(ctx));
      return result ?? sent;
    },
  });
  map.set('celery.chain', {
    options: {},
    fn: () => {
      throw new PyNotImplementedError('chain is not a real task');
    },
  });
  map.set('celery.chord', {
    options: {
      bind: true,
      params: ['header', 'body', 'partial_args', 'interval', 'countdown', 'max_retries', 'eager'],
    },
    fn: (ctx: TaskContext, header: unknown, body: unknown, partialArgs: unknown[]) => {
      const sig: Signature = {
        task: 'celery.chord',
        args: [],
        kwargs: { kwargs: {}, header, body },
        options: {},
        subtask_type: 'chord',
        immutable: false,
      };
      return canvas.apply(sig, Array.isArray(partialArgs) ? partialArgs : [], spawner(ctx));
    },
  });
  map.set('celery.chord_unlock', {
    options: {
      bind: true,
      ignore_result: true,
      max_retries: null as unknown as number,
      default_retry_delay: retryInterval,
      params: ['group_id', 'callback', 'interval', 'max_retries', 'result'],
    },
    fn: async (
      ctx: TaskContext,
      groupId: string,
      callback: unknown,
      interval: number | null,
      maxRetries: number | null,
      result: ResultTuple[],
    ) => {
      const backend = canvas.backend;
      if (backend === null) throw new Error('celery.chord_unlock needs a result backend');
      const body = asSignature(callback);
      const ids = (result ?? []).map((tuple) => (Array.isArray(tuple[0]) ? tuple[0][0] : String(tuple[0])));
      const countdown = typeof interval === 'number' ? interval : retryInterval;
      let docs: Awaited<ReturnType<typeof backend.getMany>>;
      try {
        docs = await backend.getMany(ids);
      } catch (error) {
        return ctx.retry({ exc: error, countdown, max_retries: maxRetries ?? null });
      }
      const ready = docs.every((d) => d !== null && ['SUCCESS', 'FAILURE', 'REVOKED'].includes(d.status));
      if (!ready) {
        canvas.logger.debug(
          { event: 'worker.chord_unlock_waiting', group_id: groupId },
          'Chord header not ready yet; polling again',
        );
        return ctx.retry({ countdown, max_retries: maxRetries ?? null });
      }
      const failed = docs.findIndex((d) => d !== null && d.status !== 'SUCCESS');
      if (failed !== -1) {
        const what = exceptionFromResult(docs[failed]!).message;
        await chordErrorFromStack(
          canvas,
          body,
          new ChordError(`Dependency ${ids[failed]} raised ${what}`),
          spawner(ctx),
        );
        return null;
      }
      const values = docs.map((d) => d!.result);
      try {
        await canvas.apply(body, [values], spawner(ctx));
      } catch (error) {
        await chordErrorFromStack(canvas, body, new ChordError(`Callback error: ${String(error)}`), spawner(ctx));
      }
      return null;
    },
  });
  map.set('celery.accumulate', {
    options: { bind: true },
    fn: (_ctx: TaskContext, ...args: unknown[]) => {
      const last = args[args.length - 1];
      let index: unknown;
      if (last !== null && typeof last === 'object' && !Array.isArray(last) && 'index' in last) {
        index = (last as { index?: unknown }).index;
        args = args.slice(0, -1);
      }
      return typeof index === 'number' ? args[index] : args;
    },
  });
  map.set('celery.backend_cleanup', {
    options: {},
    fn: () => {
      canvas.logger.info({ event: 'worker.backend_cleanup' }, BACKEND_CLEANUP_NOTE);
      return BACKEND_CLEANUP_NOTE;
    },
  });
  return map;
}

/**
 * The plan of a Celery built-in task for a worker whose app does not define that name itself, or
 * undefined for any other name. Their options (bind, ignore_result, ...) are Celery's; the app's
 * `task_annotations` for the name still apply on top.
 */
export function builtinPlan(canvas: WorkerCanvas, name: string, settings: WorkerSettings): TaskPlan | undefined {
  if (!(BUILTIN_TASK_NAMES as readonly string[]).includes(name)) return undefined;
  const builtin = builtins(canvas, canvas.app.conf.settings).get(name);
  if (builtin === undefined) return undefined;
  const task: WorkerTask = { name, fn: builtin.fn, options: builtin.options };
  const annotated = canvas.app.taskOptions(name);
  const shim = { taskOptions: () => ({ ...builtin.options, ...annotated }) } as unknown as WorkerApp;
  return buildTaskPlan(shim, task, settings);
}
