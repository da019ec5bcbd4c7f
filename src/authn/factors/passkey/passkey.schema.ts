import { z } from '../../../lib/zod.js';

/**
 * The WebAuthn JSON a browser sends (WebAuthn Level 3 §5.1.8, `toJSON()`), checked for shape and
 * size before any CBOR is decoded: a credential id is at most 1023 bytes (§5.4.3), and no honest
 * attestation, client data or signature comes near the caps below.
 */
const b64url = (maxBytes: number) =>
  z
    .string()
    .max(Math.ceil((maxBytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
const credentialId = b64url(1023).min(16);

const common = {
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
};

export const registrationResponseSchema = z.object({
  ...common,
  response: z.object({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(16_384),
    transports: z.array(z.string().max(32)).max(8).optional(),
  }),
});

export const authenticationResponseSchema = z.object({
  ...common,
  response: z.object({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(4096),
    signature: b64url(1024),
    userHandle: b64url(64).optional(),
  }),
});

/** What the routes hand the method: the WebAuthn response, and a name for a credential being registered. */
export const passkeyResponseSchema = z.object({
  credential: z.unknown(),
  name: z.string().trim().min(1).max(64).optional(),
});

export const isPasskeyResponse = (response: unknown): boolean => {
  const credential = (response as { credential?: { type?: unknown } } | null)?.credential;
  return typeof credential === 'object' && credential !== null && credential.type === 'public-key';
};

/**
 * The ceremony ran in a frame (WebAuthn Level 3 §5.8.1 `crossOrigin`, `topOrigin`). Our pages are
 * never framed by another site (frame-ancestors 'self'), so a response made in a cross-origin frame,
 * or inside a top-level page that is not ours, is refused; the verification library checks
 * `topOrigin` only at authentication and only when it is sent.
 */
export function isFramed(clientDataJSON: string, origins: readonly string[]): boolean {
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { crossOrigin?: unknown; topOrigin?: unknown };
    return parsed.crossOrigin === true || (parsed.topOrigin !== undefined && !(typeof parsed.topOrigin === 'string' && origins.includes(parsed.topOrigin)));
  } catch {
    return false; // not JSON: the library refuses it
  }
}
