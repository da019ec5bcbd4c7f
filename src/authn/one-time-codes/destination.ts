import { createRequire } from 'node:module';
import { hmac } from '../../lib/crypto.js';
import { badRequest } from '../../lib/errors.js';
import { z } from '../../lib/zod.js';

/** Where a code can go: a phone (SMS and voice) or an e-mail address; the `credentials` kind of its row. */
export type DestinationKind = 'phone' | 'email';

export const DESTINATION_KINDS: readonly DestinationKind[] = ['phone', 'email'];

// Its CommonJS build: the ES build imports its metadata JSON without an import attribute, which some loaders refuse.
const { parsePhoneNumberFromString } = createRequire(import.meta.url)('libphonenumber-js/max') as typeof import('libphonenumber-js/max');

const emailSchema = z.email().max(254);

/** An E.164 number the numbering plan knows (any line type: a landline still takes a voice call). */
export function normalisePhone(raw: string): string {
  const parsed = raw.length <= 32 ? parsePhoneNumberFromString(raw) : undefined;
  if (!parsed?.isValid()) throw badRequest('phone: not a valid phone number (E.164, e.g. +14155550123)');
  return parsed.number;
}

export function normaliseEmail(raw: string): string {
  const parsed = emailSchema.safeParse(raw.trim());
  if (!parsed.success) throw badRequest('email: not a valid e-mail address');
  return parsed.data.toLowerCase();
}

export const normalise = (kind: DestinationKind, raw: string): string => (kind === 'phone' ? normalisePhone(raw) : normaliseEmail(raw));

/** What a list shows of a number: its last four digits. */
export const maskPhone = (e164: string): string => `xxx-xxx-${e164.slice(-4)}`;

/** What a list shows of an address: the first and last character of the local part, and the domain. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  return `${local[0] ?? ''}…${local[local.length - 1] ?? ''}@${address.slice(at + 1)}`;
}

export const maskOf = (kind: DestinationKind, value: string): string => (kind === 'phone' ? maskPhone(value) : maskEmail(value));

/**
 * A mask for a destination id the account does not have, the same for the same id, shaped like a
 * real one, so an answer does not tell whether the id exists.
 */
export function decoyMask(kind: DestinationKind, key: string, id: string): string {
  const h = hmac(key, `decoy:${id}`);
  const digits = [...h].map((c) => c.charCodeAt(0) % 10).join('');
  const letters = [...h.toLowerCase().replace(/[^a-z]/g, '')];
  return kind === 'phone' ? maskPhone(digits.slice(0, 4)) : `${letters[0] ?? 'a'}…${letters[1] ?? 'z'}@${letters.slice(2, 9).join('') || 'example'}.com`;
}

/** The keyed hash that finds the same destination twice without storing it in clear. */
export const destinationHash = (key: string, kind: DestinationKind, value: string) => hmac(key, `destination:${kind}:${value}`);
