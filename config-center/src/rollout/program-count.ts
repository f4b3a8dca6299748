/** How many programs a node's config runs: what serving it a change may restart at most. */
export function programCount(config: Record<string, unknown>): number {
  const programs = config.programs;
  return programs !== null && typeof programs === 'object' ? Object.keys(programs).length : 0;
}
