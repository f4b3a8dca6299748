// Tasks of the task-health end-to-end test: one that sleeps then succeeds, one that fails.
import { Celeriac } from 'celeriac';

export const app = new Celeriac('health');

app.task('health.nap', async (ms) => {
  await new Promise((resolve) => setTimeout(resolve, Number(ms)));
  return ms;
});
app.task('health.boom', () => {
  throw new Error('boom on purpose');
});
