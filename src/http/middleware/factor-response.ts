import type { Context } from 'koa';
import { z } from '../../lib/zod.js';
import { body, validate } from './body.js';

// The response itself is checked by the factor, so that every malformed value also counts as a failed attempt.
const codeBody = z.object({ code: z.unknown() });

/** A WebAuthn response (and, for a new credential, its name): JSON from script, or a form field holding that JSON. */
const credentialBody = z.object({
  credential: z.union([z.record(z.string(), z.unknown()), z.string().transform((raw, ctx) => parseJson(raw, ctx))]),
  name: z.string().trim().max(64).optional(),
});

function parseJson(raw: string, ctx: z.core.$RefinementCtx): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
}

/**
 * What a factor gets from a request: a WebAuthn response (`credential`, with the name of a new
 * credential; blank means none), answers to security questions (`{answers}`), or else the code. Which form fits is the factor's to judge.
 */
export function responseOf(ctx: Context): unknown {
  const sent = body(ctx);
  // Answers to a question challenge (JSON, or form fields `answers[i][identifier|answer]`) go to the factor as they are.
  if (typeof sent === 'object' && sent !== null && 'answers' in sent) return { answers: sent.answers };
  if (typeof sent !== 'object' || sent === null || !('credential' in sent)) return validate(codeBody, sent).code;
  const { credential, name } = validate(credentialBody, sent);
  return { credential, ...(name ? { name } : {}) };
}
