/**
 * The JS arguments of a Celery task call (`args`, `kwargs`), as the worker and the client's eager
 * mode both call a task function: with `params` (the task's declared parameter names), kwargs land
 * on their declared positions (missing ones are `undefined`, so JS defaults apply); without, non-empty
 * kwargs are one extra last argument. An unknown or doubly given keyword is Python's `TypeError`,
 * made by `argumentError` (the worker's carries its error code). Without kwargs, `args` is returned as is.
 */
export function taskCallArguments(
  name: string,
  params: readonly string[] | null,
  args: unknown[],
  kwargs: Record<string, unknown>,
  argumentError: (message: string) => Error = (message) => new TypeError(message),
): unknown[] {
  let hasKwargs = false;
  for (const _ in kwargs) {
    hasKwargs = true;
    break;
  }
  if (!hasKwargs) return args;
  if (params === null) return [...args, kwargs];
  const out = args.slice();
  for (const key of Object.keys(kwargs)) {
    const index = params.indexOf(key);
    if (index === -1) throw argumentError(`${name}() got an unexpected keyword argument '${key}'`);
    if (index < args.length) throw argumentError(`${name}() got multiple values for argument '${key}'`);
    while (out.length < index) out.push(undefined);
    out[index] = kwargs[key];
  }
  return out;
}
