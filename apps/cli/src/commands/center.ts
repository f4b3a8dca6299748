// Placeholder until the center command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac center: not built yet\n');
  return 1;
}
