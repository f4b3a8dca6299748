/**
 * Micro-benchmark of the hot paths: `npx tsx libs/protocol/bench/codec-bench.ts`.
 * Prints µs per message for encodeTaskEnvelope and decodeTaskEnvelope (best of 5 rounds).
 */
import {
  buildResultDocument,
  decodeTaskEnvelope,
  encodeResult,
  encodeTaskEnvelope,
  type Serializer,
} from '../src/index.js';

const N = 200_000;
const ACCEPT = ['json', 'msgpack'];

function best(label: string, fn: (i: number) => unknown): void {
  let bestUs = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (fn(i)) sink++;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
    bestUs = Math.min(bestUs, us);
  }
  console.log(
    `${label.padEnd(44)} ${bestUs.toFixed(2)} µs/msg  (${Math.round(1e6 / bestUs).toLocaleString()}/s)${sink < 0 ? '' : ''}`,
  );
}

for (const serializer of ['json', 'msgpack'] as Serializer[]) {
  const task = { task: 'tasks.add', args: [2, 3], kwargs: {}, queue: 'celery', serializer };
  best(`encodeTaskEnvelope add(2, 3) ${serializer}`, (i) => encodeTaskEnvelope({ ...task, id: `id-${i}` }));
  const raw = encodeTaskEnvelope({ ...task, id: 'c3a6c083-8a77-4b49-ab02-48beb314f8aa' });
  best(`decodeTaskEnvelope add(2, 3) ${serializer}`, () => decodeTaskEnvelope(raw, { accept: ACCEPT }).ok);
}
best('buildResultDocument + encodeResult SUCCESS 5', (i) =>
  encodeResult(buildResultDocument({ taskId: `id-${i}`, status: 'SUCCESS', result: 5 })),
);
