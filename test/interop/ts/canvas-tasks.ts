// The celeriac twin of test/interop/py/canvas_tasks.py: the interop tasks (tasks.ts) plus the
// canvas ones. Loaded by `celeriac worker -A`. Errbacks record what they were called with in the
// hash `canvas.errbacks` (field: the failed task's id) on INTEROP_RECORD_URL (default the broker).
import { Redis } from 'ioredis';
import { app } from './tasks.js';

export { app };

let client: Redis | undefined;
function records(): Redis {
  client ??= new Redis(process.env.INTEROP_RECORD_URL ?? String(app.conf.settings.broker_url));
  return client;
}

app.task('tasks.tsum', (values: number[]) => values.reduce((a, b) => a + b, 0), { params: ['values'] });

interface ErrbackRequest {
  id: string;
  task: string;
}

// Two parameters or more: a worker that has it calls it in-process with (request, exc, traceback).
app.task('tasks.ts_on_error', async (request: ErrbackRequest | string, exc?: Error, traceback?: string | null) => {
  const value =
    typeof request === 'string'
      ? { worker: 'celeriac', style: 'old', arg: request }
      : {
          worker: 'celeriac',
          style: 'new',
          request_id: request.id,
          request_task: request.task,
          exc_type: exc?.name,
          exc_message: exc?.message,
          traceback: typeof traceback === 'string' && traceback.length > 0,
        };
  await records().hset('canvas.errbacks', typeof request === 'string' ? request : request.id, JSON.stringify(value));
});

// One parameter: always called through a message with [task_id] (Celery's old style).
app.task(
  'tasks.ts_on_error_id',
  async (taskId: string) => {
    await records().hset('canvas.errbacks', taskId, JSON.stringify({ worker: 'celeriac', style: 'old', arg: taskId }));
  },
  { params: ['task_id'] },
);
