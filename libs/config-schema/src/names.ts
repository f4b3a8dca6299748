import { z } from 'zod';

/** Node, group and program names: 1–63 of a–z 0–9 _ . - starting with a letter or digit, never "..". */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

const NAME_RULE =
  'a name is 1 to 63 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit, without ".."';

/** True when `name` is a valid node, group or program name. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && !name.includes('..');
}

function nameSchema(what: string) {
  return z.string({ error: `${what} names must be strings` }).refine(isValidName, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid ${what} name; ${NAME_RULE}`,
  });
}

/** A node name, e.g. "web-1". */
export const nodeNameSchema = nameSchema('node');
/** A group name, e.g. "web". */
export const groupNameSchema = nameSchema('group');
/** A program name (a key of `programs`), e.g. "workers". */
export const programNameSchema = nameSchema('program');

/** What a layer name refers to. */
export type LayerRef = { kind: 'defaults' } | { kind: 'group'; name: string } | { kind: 'node'; name: string };

/** The operator-readable rule for layer names. */
export const LAYER_NAME_RULE = `layer names are "defaults", "groups/<group>" or "nodes/<node>", where ${NAME_RULE}`;

/** Reads "defaults" | "groups/<group>" | "nodes/<node>"; null when the name is not one of these. */
export function parseLayerName(layer: string): LayerRef | null {
  if (layer === 'defaults') return { kind: 'defaults' };
  const match = /^(groups|nodes)\/(.*)$/.exec(layer);
  if (!match || !isValidName(match[2] as string)) return null;
  return { kind: match[1] === 'groups' ? 'group' : 'node', name: match[2] as string };
}

/** A layer name: "defaults", "groups/<group>" or "nodes/<node>". */
export const layerNameSchema = z
  .string({ error: 'layer names must be strings' })
  .refine((value) => parseLayerName(value) !== null, { error: LAYER_NAME_RULE });
