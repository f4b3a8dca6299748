import type { NodeLabels } from './node-labels.js';

/** What a selector looks at of one node. */
export interface SelectableNode {
  node: string;
  groups: readonly string[];
  labels: Readonly<NodeLabels>;
}

/** One term of a selector; every term must hold for a node to be selected. */
export type SelectorTerm =
  | { key: string; op: 'in' | 'not_in'; values: string[] }
  | { key: string; op: 'exists' | 'absent' };

/** A parsed selector; no terms selects every node. */
export interface NodeSelector {
  terms: SelectorTerm[];
  /** The text it was parsed from, trimmed. */
  text: string;
}

/** What `parseSelector` gives: the selector, or a message saying what is wrong with the text. */
export type SelectorParseResult = { ok: true; selector: NodeSelector } | { ok: false; message: string };

/** Selector syntax for help texts and error messages. */
export const SELECTOR_HELP =
  'a selector is terms separated by ",", all of which must hold: "zone=eu" (label zone is eu), ' +
  '"zone=eu|us" (either), "zone!=eu", "zone" (has label zone), "!zone" (lacks it), "node=web-*" ' +
  '(node name, * matches anything), "group=video" (the node is in group video)';

const KEY = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const VALUE = /^[A-Za-z0-9*][A-Za-z0-9_.*-]{0,62}$/;

/**
 * Parses a selector such as `zone=eu,role=video|audio,!canary,node=web-*`. Pure; never throws.
 * Values may contain `*` (any characters); `node` and `group` are the node's name and groups,
 * every other key is a label.
 */
export function parseSelector(text: string): SelectorParseResult {
  const trimmed = text.trim();
  const terms: SelectorTerm[] = [];
  if (trimmed === '') return { ok: true, selector: { terms, text: trimmed } };
  for (const raw of trimmed.split(',')) {
    const part = raw.trim();
    const bad = (why: string): SelectorParseResult => ({
      ok: false,
      message: `selector term ${JSON.stringify(part)} ${why}; ${SELECTOR_HELP}`,
    });
    if (part === '') return bad('is empty');
    const match = /^([^!=]*)(!=|==|=)(.*)$/.exec(part);
    if (!match) {
      const negated = part.startsWith('!');
      const key = negated ? part.slice(1) : part;
      if (!KEY.test(key)) return bad(`has no valid key`);
      if (key === 'node' || key === 'group') return bad(`needs a value (${key}=...)`);
      terms.push({ key, op: negated ? 'absent' : 'exists' });
      continue;
    }
    const key = (match[1] as string).trim();
    const values = (match[3] as string).split('|').map((value) => value.trim());
    if (!KEY.test(key)) return bad('has no valid key before the "="');
    if (values.some((value) => !VALUE.test(value))) return bad('has an empty or invalid value');
    terms.push({ key, op: match[2] === '!=' ? 'not_in' : 'in', values });
  }
  return { ok: true, selector: { terms, text: trimmed } };
}

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const source = pattern
    .split('*')
    .map((piece) => piece.replace(/[.\\+?^${}()|[\]]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(value);
}

/** The values a key has on a node: its name, its groups, or the label's value (none when unset). */
function valuesOf(node: SelectableNode, key: string): readonly string[] {
  if (key === 'node') return [node.node];
  if (key === 'group') return node.groups;
  const value = node.labels[key];
  return value === undefined ? [] : [value];
}

function termHolds(term: SelectorTerm, node: SelectableNode): boolean {
  const values = valuesOf(node, term.key);
  switch (term.op) {
    case 'exists':
      return values.length > 0;
    case 'absent':
      return values.length === 0;
    case 'in':
      return values.some((value) => term.values.some((pattern) => globMatches(pattern, value)));
    case 'not_in':
      return !values.some((value) => term.values.some((pattern) => globMatches(pattern, value)));
  }
}

/** Whether every term of `selector` holds for `node`. */
export function matchesSelector(selector: NodeSelector, node: SelectableNode): boolean {
  return selector.terms.every((term) => termHolds(term, node));
}

/** The nodes `selector` selects, in the order given. */
export function selectNodes<T extends SelectableNode>(selector: NodeSelector, nodes: readonly T[]): T[] {
  return nodes.filter((node) => matchesSelector(selector, node));
}
