// Placeholder until the worker command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac worker: not built yet\n');
  return 1;
}
