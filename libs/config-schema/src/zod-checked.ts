import { z } from 'zod';
import type { Check } from './checks.js';

/** A zod schema of type T whose checking is done by `check`, so that every problem gets its own path and message. */
export function checked<T>(check: Check, layer: boolean, description?: string): z.ZodType<T> {
  const schema = z.custom<T>().superRefine((value, ctx) => {
    check(value, (path, message) => ctx.addIssue({ code: 'custom', message, path: [...path] }), layer);
  });
  return (description ? schema.meta({ description }) : schema) as unknown as z.ZodType<T>;
}
