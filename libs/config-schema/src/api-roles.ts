/** Token roles, in order of power. */
export const TOKEN_ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];
