// A refresh loop for a view: runs `step` now and again `everyMs` after each run ends, until stopped.
// A run still in flight when the loop stops (or restarts) is told so, and its result is dropped.

/** Makes a loop; `step(isCurrent)` gets a function that says whether its run still counts. */
export function poller(step, everyMs, shouldContinue) {
  const state = { timer: null, run: 0 };
  const stop = () => {
    state.run += 1;
    clearTimeout(state.timer);
    state.timer = null;
  };
  const tick = async () => {
    const run = state.run;
    const isCurrent = () => run === state.run;
    await step(isCurrent);
    if (isCurrent() && shouldContinue()) state.timer = setTimeout(tick, everyMs);
  };
  return {
    start() {
      stop();
      tick();
    },
    stop,
  };
}
