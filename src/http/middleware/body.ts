import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import type { z } from 'zod';
import { badRequest } from '../../lib/errors.js';

/** JSON and form bodies for our own routes (the provider parses its own), size-capped: 413 past the limit. */
export function parseBodies(limitBytes: number): Middleware {
  return bodyParser({ enableTypes: ['json', 'form'], jsonLimit: limitBytes, formLimit: limitBytes, jsonStrict: true });
}

/** Validates the parsed body; the 400 names the first offending field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown field is named as itself, so a caller sees which of its fields is not accepted.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    const field = path.map(String).join('.') || 'body';
    throw badRequest(`${field}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`);
  }
  return parsed.data;
}

export const body = (ctx: Context): unknown => (ctx.request as { body?: unknown }).body;
