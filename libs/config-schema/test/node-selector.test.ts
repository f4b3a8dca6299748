import { describe, expect, it } from 'vitest';
import { type NodeSelector, parseSelector, type SelectableNode, selectNodes, validateLayer } from '../src/index.js';

const fleet: SelectableNode[] = [
  { node: 'web-1', groups: ['web'], labels: { zone: 'eu', role: 'video' } },
  { node: 'web-2', groups: ['web'], labels: { zone: 'us', role: 'video', canary: 'yes' } },
  { node: 'batch-1', groups: ['batch', 'web'], labels: { zone: 'eu', role: 'batch' } },
  { node: 'bare', groups: [], labels: {} },
];

function selector(text: string): NodeSelector {
  const parsed = parseSelector(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.selector;
}

describe('node selectors', () => {
  it.each([
    ['', ['web-1', 'web-2', 'batch-1', 'bare']],
    ['zone=eu', ['web-1', 'batch-1']],
    ['zone==eu', ['web-1', 'batch-1']],
    ['zone=eu,role=video', ['web-1']],
    [' zone = eu , role = video ', ['web-1']],
    ['role=video|batch', ['web-1', 'web-2', 'batch-1']],
    ['zone!=eu', ['web-2', 'bare']],
    ['zone!=eu|us', ['bare']],
    ['canary', ['web-2']],
    ['!canary', ['web-1', 'batch-1', 'bare']],
    ['!zone', ['bare']],
    ['node=web-*', ['web-1', 'web-2']],
    ['node=*-1', ['web-1', 'batch-1']],
    ['node=bare', ['bare']],
    ['group=web', ['web-1', 'web-2', 'batch-1']],
    ['group=batch', ['batch-1']],
    ['group!=batch', ['web-1', 'web-2', 'bare']],
    ['group=web,zone=eu,!canary', ['web-1', 'batch-1']],
    ['role=vid*', ['web-1', 'web-2']],
    ['zone=asia', []],
  ])('%j selects %j', (text, expected) => {
    expect(selectNodes(selector(text), fleet).map((n) => n.node)).toEqual(expected);
  });

  it.each([
    ['zone=', 'has an empty or invalid value'],
    ['=eu', 'has no valid key'],
    ['zone=eu,,role=x', 'is empty'],
    ['Zone=eu', 'has no valid key'],
    ['zone=e u', 'invalid value'],
    ['node', 'needs a value'],
    ['!', 'has no valid key'],
    ['zone=a|', 'invalid value'],
  ])('refuses %j (%s) and says the syntax', (text, why) => {
    const parsed = parseSelector(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toContain(why);
    expect(parsed.message).toContain('zone=eu|us');
  });

  it('does not read regular expression characters in values as patterns', () => {
    const nodes: SelectableNode[] = [
      { node: 'a.b', groups: [], labels: {} },
      { node: 'axb', groups: [], labels: {} },
    ];
    expect(selectNodes(selector('node=a.b'), nodes).map((n) => n.node)).toEqual(['a.b']);
  });
});

describe('node labels in layers', () => {
  it('accepts labels in a node layer and null (removal) in a layer', () => {
    const result = validateLayer('nodes/web-1', { labels: { zone: 'eu', role: 'video', old: null } });
    expect(result.ok).toBe(true);
  });

  it.each([
    [{ labels: 'eu' }, 'labels', 'must be an object of label to value'],
    [{ labels: { Zone: 'eu' } }, 'labels.Zone', 'is not a valid label key'],
    [{ labels: { zone: 'e u' } }, 'labels.zone', 'is not a valid label value'],
    [{ labels: { zone: 5 } }, 'labels.zone', 'is not a valid label value'],
    [{ labels: { node: 'x' } }, 'labels.node', 'is not a label name'],
    [{ labels: { group: 'x' } }, 'labels.group', 'is not a label name'],
  ])('refuses %j at %s', (doc, path, message) => {
    const result = validateLayer('nodes/web-1', doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toContainEqual({ path, message: expect.stringContaining(message) });
  });

  it.each(['defaults', 'groups/web'])('refuses labels in %s: only node layers carry them', (layer) => {
    const result = validateLayer(layer, { labels: { zone: 'eu' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([{ path: 'labels', message: expect.stringContaining('only a node layer') }]);
  });

  it('refuses more than 64 labels', () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const result = validateLayer('nodes/web-1', { labels });
    expect(result.ok).toBe(false);
  });
});
