// Placeholder until the config command lands; replaced by its owner.
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('celeriac config: not built yet\n');
  return 1;
}
