import type { ServerResponse } from 'node:http';
import type { Logger } from '@celeriac/logger';
import type { CenterMetrics } from './center-metrics.js';
import type { NodeView } from './center-state.js';
import { finishWritten, sendConfigAnswer, sendNotModified, writeNotModified } from './config-answer.js';
import type { ConfigService } from './config-service.js';
import type { LongPollHold, LongPollHub, LongPollWaiter, WaitOutcome } from './long-poll-hub.js';
import { maskSecrets } from './secret-mask.js';
import type { SpreadTask } from './turn-spreader.js';

/** One `GET /v1/nodes/:node/config` request, as the route parsed it. */
export interface ConfigRequest {
  node: string;
  /** Answer only a revision newer than this (undefined: whatever is current). */
  after: number | undefined;
  /** How long to hold when nothing is newer; 0 answers 304 at once. */
  waitMs: number;
  /** The token may not see secrets: mask them in this answer. */
  mask: boolean;
}

/**
 * Serves node configs and holds their long-polls without fastify's reply pipeline: the route
 * hijacks the reply and hands the raw response here. A held poll is one small object in the
 * hub (no promise, closure chain or timer of its own); when its node's config changes, the view
 * is taken at once and the answer is handed to the hub, which writes a batch per event-loop turn.
 */
export class ConfigLongPolls {
  constructor(
    readonly service: ConfigService,
    readonly hub: LongPollHub,
    readonly metrics: CenterMetrics,
    readonly logger: Logger,
  ) {}

  /** Answers `request` on `res` now when its node has something newer, else holds it. */
  serve(res: ServerResponse, request: ConfigRequest): void {
    const view = this.service.servedView(request.node);
    const isLongPoll = request.after !== undefined && request.waitMs > 0;
    if (request.after === undefined || view.revision > request.after) {
      if (isLongPoll) this.metrics.observeLongPoll('changed');
      this.write(res, request, view);
    } else if (!isLongPoll) {
      writeNotModified(res);
    } else {
      new HeldConfigPoll(this, res, request, request.after).start(request.waitMs);
    }
  }

  /** Writes the 200 answer with `view` (masked when the token asks for it). */
  write(res: ServerResponse, request: ConfigRequest, view: NodeView): void {
    finishWritten(this.send(res, request, view));
  }

  /** `write` without the finish; returns the response when it is still to be finished (`finishWritten`). */
  send(res: ServerResponse, request: ConfigRequest, view: NodeView): ServerResponse | undefined {
    return sendConfigAnswer(res, request.node, view, request.mask ? maskSecrets(view.config) : undefined);
  }
}

/** A long-poll held in the hub until its node's config changes, its wait ends or its client goes. */
class HeldConfigPoll implements LongPollWaiter, SpreadTask {
  private hold: LongPollHold | undefined;
  private deadline = 0;
  /** What to answer once settled: the view taken when it changed, undefined for a 304. */
  private view: NodeView | undefined;
  private gone = false;
  /** The response `run` wrote on its socket, finished by `complete`. */
  private unfinished: ServerResponse | undefined;
  private readonly onClose = (): void => {
    // 'close' also follows a finished answer; only an unanswered one means the client went away.
    if (this.res.writableFinished) return;
    this.gone = true;
    if (this.hold) this.polls.hub.release(this.hold);
  };

  constructor(
    private readonly polls: ConfigLongPolls,
    private readonly res: ServerResponse,
    private readonly request: ConfigRequest,
    private readonly after: number,
  ) {}

  start(waitMs: number): void {
    this.deadline = Date.now() + waitMs;
    this.res.once('close', this.onClose);
    this.hold = this.polls.hub.hold(this.request.node, waitMs, this);
  }

  settle(outcome: WaitOutcome): void {
    this.hold = undefined;
    if (outcome === 'aborted') {
      this.res.off('close', this.onClose);
      return;
    }
    if (outcome === 'changed') {
      const view = this.polls.service.servedView(this.request.node);
      if (view.revision <= this.after) {
        // Woken without anything newer to serve (a rollout held it back): wait out the rest.
        const remaining = this.deadline - Date.now();
        if (remaining > 0) {
          this.hold = this.polls.hub.hold(this.request.node, remaining, this);
          return;
        }
      } else this.view = view;
    }
    this.polls.hub.deliver(this);
  }

  run(): void {
    if (this.gone) return;
    this.unfinished = this.view ? this.polls.send(this.res, this.request, this.view) : sendNotModified(this.res);
  }

  /** The bookkeeping after the batch's answers were all written (see TurnSpreader). */
  complete(): void {
    this.res.off('close', this.onClose);
    if (this.gone) return;
    this.polls.metrics.observeLongPoll(this.view ? 'changed' : 'timeout');
    const res = this.unfinished;
    this.unfinished = undefined;
    finishWritten(res);
  }

  fail(error: unknown): void {
    this.polls.logger.error(
      { event: 'center.long_poll_failed', err: error, node: this.request.node },
      'a long-poll answer could not be written; its connection is closed so the agent retries',
    );
    this.res.destroy();
  }
}
