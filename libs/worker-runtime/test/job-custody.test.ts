import type { Delivery } from '@celeriac/broker';
import type { ResultDocument, TaskMessage } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { WorkerError } from '../src/errors.js';
import { isRunning, type Job, JobCustody, type JobState } from '../src/job-custody.js';
import type { TaskPlan } from '../src/task-plan.js';

type Op = 'start' | 'ackEarly' | 'finish' | 'handBack' | 'abandon' | 'defer';
const OPS: Op[] = ['start', 'ackEarly', 'finish', 'handBack', 'abandon', 'defer'];
const STATES: JobState[] = ['held', 'running', 'running_acked', 'acked', 'handed_back', 'abandoned', 'deferred'];

const DOC = { status: 'SUCCESS', task_id: 'id-1' } as ResultDocument;

/** A custody with one job, and what it queued and reported. */
function setup() {
  const acks: [ResultDocument | null, string | null][] = [];
  let finishedCalls = 0;
  const custody = new JobCustody({ add: (doc, tag) => acks.push([doc, tag]) }, () => finishedCalls++);
  const job = custody.receive(
    { deliveryTag: 'tag-1', queue: 'celery' } as Delivery,
    { id: 'id-1', task: 't.x' } as TaskMessage,
    {} as TaskPlan,
  );
  const counts = () => ({ held: custody.held, running: custody.running, finished: custody.finished });
  return { custody, job, acks, counts, finishedCalls: () => finishedCalls };
}

function apply(custody: JobCustody, job: Job, op: Op): void {
  if (op === 'finish') custody.finish(job, DOC);
  else custody[op](job);
}

/** The legal path from `held` to each state. */
const PATH: Record<JobState, Op[]> = {
  held: [],
  running: ['start'],
  running_acked: ['start', 'ackEarly'],
  acked: ['start', 'finish'],
  handed_back: ['handBack'],
  abandoned: ['start', 'ackEarly', 'abandon'],
  deferred: ['defer'],
};

interface Counts {
  held: number;
  running: number;
  finished: number;
}
const COUNTS: Record<JobState, Counts> = {
  held: { held: 1, running: 0, finished: 0 },
  running: { held: 1, running: 1, finished: 0 },
  running_acked: { held: 0, running: 1, finished: 0 },
  acked: { held: 0, running: 0, finished: 1 },
  handed_back: { held: 0, running: 0, finished: 0 },
  abandoned: { held: 0, running: 0, finished: 0 },
  deferred: { held: 0, running: 0, finished: 0 },
};

/** Every legal (state, report) pair: the state after it and what it queues on the ack sink. */
const LEGAL: { from: JobState; op: Op; to: JobState; queued: [ResultDocument | null, string | null][] }[] = [
  { from: 'held', op: 'start', to: 'running', queued: [] },
  { from: 'held', op: 'handBack', to: 'handed_back', queued: [] },
  // The eta lies beyond the horizon: the deferral moves it to the delayed set (and acks it there).
  { from: 'held', op: 'defer', to: 'deferred', queued: [] },
  { from: 'running', op: 'ackEarly', to: 'running_acked', queued: [[null, 'tag-1']] },
  { from: 'running', op: 'finish', to: 'acked', queued: [[DOC, 'tag-1']] },
  { from: 'running', op: 'handBack', to: 'handed_back', queued: [] },
  { from: 'running_acked', op: 'finish', to: 'acked', queued: [[DOC, null]] },
  { from: 'running_acked', op: 'abandon', to: 'abandoned', queued: [] },
  // A late outcome of a job given up at shutdown is ignored.
  { from: 'handed_back', op: 'finish', to: 'handed_back', queued: [] },
  { from: 'abandoned', op: 'finish', to: 'abandoned', queued: [] },
];

const ILLEGAL = STATES.flatMap((from) =>
  OPS.filter((op) => !LEGAL.some((l) => l.from === from && l.op === op)).map((op) => ({ from, op })),
);

describe('JobCustody', () => {
  it('takes a received message in as held', () => {
    const { job, counts, acks } = setup();
    expect(job.state).toBe('held');
    expect(counts()).toEqual(COUNTS.held);
    expect(acks).toEqual([]);
  });

  it.each(STATES)('reaches %s with the counts that state implies', (state) => {
    const { custody, job, counts } = setup();
    for (const op of PATH[state]) apply(custody, job, op);
    expect(job.state).toBe(state);
    expect(counts()).toEqual(COUNTS[state]);
    expect(isRunning(job)).toBe(state === 'running' || state === 'running_acked');
  });

  it.each(LEGAL)('$from --$op--> $to', ({ from, op, to, queued }) => {
    const { custody, job, acks, counts, finishedCalls } = setup();
    for (const step of PATH[from]) apply(custody, job, step);
    const queuedBefore = acks.length;
    const callsBefore = finishedCalls();
    apply(custody, job, op);
    expect(job.state).toBe(to);
    expect(acks.slice(queuedBefore)).toEqual(queued);
    expect(counts()).toEqual(COUNTS[to]);
    // The slot-freed callback follows a real finish only.
    expect(finishedCalls() - callsBefore).toBe(op === 'finish' && from !== to ? 1 : 0);
  });

  it(`refuses the ${ILLEGAL.length} other reports, naming the state, and changes nothing`, () => {
    expect(ILLEGAL).toHaveLength(STATES.length * OPS.length - LEGAL.length);
    for (const { from, op } of ILLEGAL) {
      const { custody, job, acks, counts } = setup();
      for (const step of PATH[from]) apply(custody, job, step);
      const queuedBefore = acks.length;
      let thrown: unknown;
      try {
        apply(custody, job, op);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, `${from} --${op}-->`).toBeInstanceOf(WorkerError);
      expect((thrown as WorkerError).code).toBe('WORKER_JOB_STATE');
      expect((thrown as WorkerError).message).toContain(`it is ${from}`);
      expect((thrown as WorkerError).message).toContain('id-1');
      expect(job.state).toBe(from);
      expect(counts()).toEqual(COUNTS[from]);
      expect(acks.length).toBe(queuedBefore);
    }
  });

  it('queues no document for an early-acked job that stores no result', () => {
    const { custody, job, acks } = setup();
    custody.start(job);
    custody.ackEarly(job);
    custody.finish(job, null);
    expect(acks).toEqual([[null, 'tag-1']]);
    expect(job.state).toBe('acked');
  });

  it('releases running jobs at shutdown: unacked ones handed back, acked ones abandoned', () => {
    const acks: unknown[] = [];
    const custody = new JobCustody({ add: (doc, tag) => acks.push([doc, tag]) }, () => undefined);
    const make = (id: string) =>
      custody.receive({ deliveryTag: id } as Delivery, { id, task: 't' } as TaskMessage, {} as TaskPlan);
    const [waiting, late, early, done] = [make('a'), make('b'), make('c'), make('d')];
    for (const job of [late, early, done]) custody.start(job);
    custody.ackEarly(early);
    custody.finish(done, null);
    expect({ held: custody.held, running: custody.running }).toEqual({ held: 2, running: 2 });
    const released = custody.releaseRunning();
    expect(released.handedBack).toEqual([late]);
    expect(released.abandoned).toEqual([early]);
    expect([waiting.state, late.state, early.state, done.state]).toEqual(['held', 'handed_back', 'abandoned', 'acked']);
    expect({ held: custody.held, running: custody.running, finished: custody.finished }).toEqual({
      held: 1,
      running: 0,
      finished: 1,
    });
    expect(custody.releaseRunning()).toEqual({ handedBack: [], abandoned: [] });
  });
});
