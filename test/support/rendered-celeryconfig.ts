/**
 * The settings of a `celeryconfig.py` the agent rendered (`name = <Python literal>` lines), as a
 * JSON object: the literals are JSON but for True / False / None.
 */
export function renderedCelerySettings(source: string): Record<string, unknown> {
  const literals: Record<string, unknown> = { True: true, False: false, None: null };
  const value = (text: string): unknown => (text in literals ? literals[text] : JSON.parse(text));
  return Object.fromEntries(
    [...source.matchAll(/^(\w+) = (.*)$/gm)].map(([, name, text]) => [name, value(text as string)]),
  );
}
