import path from 'node:path';

/** `<stateDir>/programs/<name>`: where a program's config file, ready files and logs live. */
export function programDir(stateDir: string, program: string): string {
  return path.join(stateDir, 'programs', program);
}
