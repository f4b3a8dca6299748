// Placeholder until the up command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac up: not built yet\n');
  return 1;
}
