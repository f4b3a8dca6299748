// Demo tasks for `celeriac up`: the worker loads this module with `-A`, and the agent gives it the
// broker and the rest of the Celery settings through its --config file.
import { Celeriac } from 'celeriac';

export const app = new Celeriac('tasks');

/** tasks.add(a, b) → a + b; also callable with kwargs {a, b} from Python. */
export const add = app.task('tasks.add', (a, b) => a + b, { params: ['a', 'b'] });

/** tasks.mul(a, b) → a * b. */
export const mul = app.task('tasks.mul', (a, b) => a * b, { params: ['a', 'b'] });

/** tasks.sleepy(seconds) sleeps, then returns the seconds: shows warm shutdown finishing in-flight work. */
export const sleepy = app.task(
  'tasks.sleepy',
  async (seconds = 1) => {
    await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
    return seconds;
  },
  { params: ['seconds'] },
);
