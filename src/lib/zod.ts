import * as zod from 'zod';
import { hasControlCharacter } from './text.js';

/**
 * zod with control characters refused in every string. Request schemas (bodies, query and path
 * parameters) import `z` from here rather than from 'zod', so no schema can forget the rule.
 */
export * from 'zod';

const plain = (s: string) => !hasControlCharacter(s);
const message = 'must not contain control characters';

export const string = (params?: Parameters<typeof zod.string>[0]) => zod.string(params).refine(plain, message);
export const email = (params?: Parameters<typeof zod.email>[0]) => zod.email(params).refine(plain, message);
// The WHATWG URL parser accepts a NUL in a path (and escapes it), so the raw string must be checked too.
export const url = (params?: Parameters<typeof zod.url>[0]) => zod.url(params).refine(plain, message);

/** This module as the familiar `z` namespace: `import { z } from '../lib/zod.js'`. */
export * as z from './zod.js';
