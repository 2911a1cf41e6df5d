/**
 * Validates a parsed JSON body against a zod schema; a mismatch is 400
 * `INVALID_INPUT` with one line per problem (`field: message`).
 */
import type { z } from 'zod';
import { HttpError } from './http-error.js';

export function validateBody<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 10).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    return `${where}: ${issue.message}`;
  });
  throw new HttpError(400, 'INVALID_INPUT', `Invalid request body — ${problems.join('; ')}`, { problems });
}
