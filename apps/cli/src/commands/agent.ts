// Placeholder until the agent command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac agent: not built yet\n');
  return 1;
}
