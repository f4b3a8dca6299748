// Celeriac side of the runtime benchmark: one no-op task whose result is stored.
// BENCH_BROKER_URL / BENCH_RESULT_BACKEND point it at the benchmark's redis-server.
import { Celeriac } from 'celeriac';

export const app = new Celeriac('bench', {
  broker_url: process.env.BENCH_BROKER_URL,
  result_backend: process.env.BENCH_RESULT_BACKEND,
  task_default_queue: 'bench',
  task_serializer: 'json',
  result_serializer: 'json',
  accept_content: ['json'],
});

export const noop = app.task('tasks.noop', () => null);
