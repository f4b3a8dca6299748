// Placeholder until the nodes command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac nodes: not built yet\n');
  return 1;
}
