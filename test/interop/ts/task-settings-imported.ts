// Loaded by `celeriac worker` through the `imports` setting (test/interop/task-settings.test.ts):
// it registers one more task on the interop app.
import { app } from './tasks.js';

/** Served only when the worker imported this module. */
export const mul = app.task('extra.mul', (a: number, b: number) => a * b);
