// Tasks of the rollout end-to-end tests: `rollout.work` fails while the program's ROLLOUT_FAIL is "1".
import { Celeriac } from 'celeriac';

export const app = new Celeriac('rollout');

app.task('rollout.work', async () => {
  if (process.env.ROLLOUT_FAIL === '1') throw new Error('ROLLOUT_FAIL is set: failing on purpose');
  await new Promise((resolve) => setTimeout(resolve, 5));
  return 'ok';
});
