/** How long a stopped worker waits for stray handles before it exits anyway. */
const EXIT_GRACE_MS = 3000;

/** `celeriac worker`: the worker program lives in @celeriac/worker-app, loaded only for this command. */
export async function run(argv: string[]): Promise<number> {
  const { runWorkerCli } = await import('@celeriac/worker-app');
  const code = await runWorkerCli(argv);
  // The worker closed everything it owns; a handle left open by user code must not keep a
  // stopped worker alive under a supervisor.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}
