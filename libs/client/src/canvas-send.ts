import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { OutgoingTask, Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import type { AsyncResult } from './async-result.js';
import { buildOutgoing, NO_TASK_OPTIONS, type OutgoingContext } from './build-outgoing.js';
import { CanvasError } from './canvas-errors.js';
import { type CanvasPlan, type PlannedMessage, planCanvas } from './canvas-plan.js';
import { type GroupResult, resultFromTuple } from './group-result.js';
import { compileRoutes, type Route, type TaskRoutes } from './router.js';
import { signatureOwner } from './signature.js';
import type { TaskOptions } from './task-options.js';

/** What sending a canvas needs from the app (the `Celeriac` app has it all). */
export interface CanvasApp {
  readonly conf: { readonly settings: Readonly<Record<string, unknown>> };
  readonly tasks: ReadonlyMap<string, unknown>;
  taskOptions(name: string): Readonly<TaskOptions>;
  routeFor(name: string, options?: { queue?: string; priority?: number }): Route;
  publish(outgoing: OutgoingTask): Promise<void>;
  AsyncResult(id: string): AsyncResult;
}

function isCanvasApp(value: unknown): value is CanvasApp {
  const o = value as Partial<CanvasApp> | undefined;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.publish === 'function' &&
    typeof o.AsyncResult === 'function' &&
    typeof o.taskOptions === 'function'
  );
}

/** The app a canvas was built with: the owner of the first signature made by `task.s()`/`si()`, or `app` when given. */
export function canvasAppOf(sigs: readonly Signature[], app?: CanvasApp): CanvasApp {
  if (app) return app;
  for (const sig of sigs) {
    const owner = signatureOwner<unknown>(sig);
    if (isCanvasApp(owner)) return owner;
  }
  throw new CanvasError(
    'this canvas has no app: build its signatures with task.s()/task.si(), or pass the app (e.g. group([...], { app }))',
  );
}

const contexts = new WeakMap<CanvasApp, { settings: Readonly<Record<string, unknown>>; ctx: OutgoingContext }>();

/** The outgoing context of an app for canvas messages (settings and routes as the app's own sends use them). */
function contextOf(app: CanvasApp): OutgoingContext {
  const settings = app.conf.settings;
  const cached = contexts.get(app);
  if (cached && cached.settings === settings) return cached.ctx;
  const ctx: OutgoingContext = {
    settings,
    routes: compileRoutes(settings.task_routes as TaskRoutes),
    origin: `gen${process.pid}@${hostname()}`,
    replyTo: randomUUID(),
    now: Date.now,
    newId: randomUUID,
  };
  contexts.set(app, { settings, ctx });
  return ctx;
}

const SIGNATURE_OPTION_NAMES = [
  'queue',
  'countdown',
  'priority',
  'link',
  'link_error',
  'ignore_result',
  'time_limit',
  'soft_time_limit',
  'headers',
  'shadow',
  'root_id',
  'parent_id',
  'serializer',
] as const;

/** The apply options a signature carries in its `options` (Celery names), as `ApplyOptions`. */
export function applyOptionsOf(options: Record<string, unknown>): ApplyOptions {
  const out: Record<string, unknown> = {};
  for (const name of SIGNATURE_OPTION_NAMES) {
    const value = options[name];
    if (value !== undefined && value !== null) out[name] = value;
  }
  const eta = options.eta;
  if (eta instanceof Date) out.eta = eta;
  else if (typeof eta === 'string' && !Number.isNaN(Date.parse(eta))) out.eta = new Date(eta);
  const expires = options.expires;
  if (typeof expires === 'number' || expires instanceof Date) out.expires = expires;
  else if (typeof expires === 'string' && !Number.isNaN(Date.parse(expires))) out.expires = new Date(expires);
  return out as ApplyOptions;
}

/** The message of one planned canvas task, built by the app's own message builder. */
function outgoingOf(app: CanvasApp, m: PlannedMessage, callOptions: ApplyOptions): OutgoingTask {
  const name = m.sig.task;
  const own = app.tasks.has(name) ? app.taskOptions(name) : NO_TASK_OPTIONS;
  const options: ApplyOptions = { ...applyOptionsOf(m.sig.options), ...callOptions, task_id: m.id };
  if (m.routeName !== null && options.queue === undefined) options.queue = app.routeFor(m.routeName).queue;
  const outgoing = buildOutgoing(contextOf(app), name, m.args, m.sig.kwargs, options, own);
  outgoing.groupId = m.groupId;
  outgoing.groupIndex = m.groupIndex;
  outgoing.embed = { ...outgoing.embed, chord: m.chord, chain: m.chain };
  return outgoing;
}

/**
 * Sends a laid-out canvas: saves nested chord headers and stores the chord sizes first (as
 * Celery's `apply_chord` and `set_chord_size` before the last header task), then publishes every
 * message in order. `callOptions` apply to every message.
 */
export async function sendPlan(app: CanvasApp, plan: CanvasPlan, callOptions: ApplyOptions = {}): Promise<void> {
  const messages = plan.messages.map((m) => outgoingOf(app, m, callOptions));
  if (plan.chordSizes.length > 0 || plan.groupSaves.length > 0) {
    const source = app.AsyncResult('').resultSource;
    if (
      typeof source.setChordSize !== 'function' ||
      (plan.groupSaves.length > 0 && typeof source.saveGroup !== 'function')
    ) {
      throw new CanvasError('this app has no result backend that can count chord parts; a chord needs one');
    }
    // Celery's apply_chord: a header whose parts' results nest is saved, so the join keeps the shape.
    for (const { groupId, tuple } of plan.groupSaves) await source.saveGroup!(groupId, tuple);
    for (const { groupId, size } of plan.chordSizes) await source.setChordSize(groupId, size);
  }
  await Promise.all(messages.map((outgoing) => app.publish(outgoing)));
}

/** Lays out and sends a signature of any kind; resolves to its result (AsyncResult or GroupResult). */
export async function sendCanvas(
  app: CanvasApp,
  sig: Signature,
  partialArgs: readonly unknown[] = [],
  callOptions: ApplyOptions = {},
): Promise<AsyncResult | GroupResult> {
  const plan = planCanvas(sig, partialArgs);
  await sendPlan(app, plan, callOptions);
  const handle = app.AsyncResult('');
  return resultFromTuple(plan.result, () => handle.resultSource, handle.resultRevoker);
}
