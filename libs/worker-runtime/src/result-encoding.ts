import { type Serializer, serialize } from '@celeriac/protocol';

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Why a task result cannot be stored as msgpack, or null when it can. */
function unencodableAsMsgpack(result: unknown): string | null {
  const type = typeof result;
  if (type === 'function' || type === 'symbol') return `Task result of type ${type} cannot be encoded as msgpack`;
  if (result === null || (type !== 'object' && type !== 'bigint')) return null;
  try {
    serialize(result, 'msgpack');
    return null;
  } catch (error) {
    return `Task result could not be encoded as msgpack: ${(error as Error).message}`;
  }
}

/** Why a task result cannot be stored in `serializer`, or null when it can. */
export function unencodableResult(result: unknown, serializer: Serializer): string | null {
  if (serializer !== 'json') return unencodableAsMsgpack(result);
  if (result !== null && typeof result === 'object') {
    try {
      JSON.stringify(result);
      return null;
    } catch (error) {
      return `Task result could not be encoded as JSON: ${(error as Error).message}`;
    }
  }
  if (typeof result === 'bigint' || typeof result === 'function' || typeof result === 'symbol') {
    return `Task result of type ${typeof result} cannot be encoded as JSON`;
  }
  return null;
}

/** The error's class name as `autoretry_for` lists it. */
export function errorName(error: unknown): string | undefined {
  if (error instanceof Error) return error.name !== 'Error' ? error.name : error.constructor.name;
  return undefined;
}
