// Loaded by `celeriac worker` through the `include` setting (test/interop/task-settings.test.ts).
import { app } from './tasks.js';

/** Served only when the worker imported this module. */
export const neg = app.task('extra.neg', (a: number) => -a);
