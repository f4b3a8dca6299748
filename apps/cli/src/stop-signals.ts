/**
 * Calls `stop` on the first SIGTERM or SIGINT and `again` on every later one (programs make a
 * second signal stop at once instead of waiting for a graceful stop).
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void, again: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      again(signal);
      return;
    }
    stopping = true;
    stop(signal);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
