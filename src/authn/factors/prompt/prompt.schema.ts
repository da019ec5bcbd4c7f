import { z } from '../../../lib/zod.js';

const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');

/** A device's ES256 public key (RFC 7518 §6.2): the private part never leaves the device, so a JWK with `d` is refused. */
export const publicJwkSchema = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: b64url(43).length(43),
    y: b64url(43).length(43),
    d: z.never().optional(),
  })
  .transform(({ kty, crv, x, y }) => ({ kty, crv, x, y }));

/**
 * A push service is reached over https (RFC 8030 §8) at a public DNS name, as every browser's is: an
 * address or a name with no dot (an internal host) is refused, so a subscription cannot aim the
 * IdP's requests into its own network by address. The size caps are far above any real subscription.
 */
const isPushServiceUrl = (raw: string, allowLoopbackHttp: boolean) => {
  if (allowLoopbackHttp && /^http:\/\/127\.0\.0\.1(:\d+)?\//.test(raw)) return true;
  const url = new URL(raw);
  return url.protocol === 'https:' && /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(url.hostname) && !url.username && !url.password;
};
const subscriptionSchema = (allowLoopbackHttp: boolean) =>
  z.object({
    endpoint: z
      .url()
      .max(1024)
      .refine((u) => isPushServiceUrl(u, allowLoopbackHttp), 'must be an https URL of a push service'),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({ p256dh: b64url(128), auth: b64url(64) }),
  });

/**
 * What registering a device sends (as the `credential` of the confirm request): its public key, a
 * signature by it over the enrolment's nonce (proof that the device holds the key), and for a
 * browser the Web Push subscription.
 */
export const deviceRegistrationSchema = (allowLoopbackHttp: boolean) =>
  z.discriminatedUnion('transport', [
    z.object({ transport: z.literal('webpush'), public_key: publicJwkSchema, proof: b64url(128), subscription: subscriptionSchema(allowLoopbackHttp) }),
    z.object({ transport: z.literal('webhook'), public_key: publicJwkSchema, proof: b64url(128) }),
  ]);

export const CHOICE = z.number().int().min(10).max(99);

/** A device's answer. Approving names the number picked; approve-only is not an answer (number matching). */
export const promptAnswerSchema = z.discriminatedUnion('decision', [
  z.object({ decision: z.literal('approve'), number: CHOICE, signature: b64url(128) }),
  z.object({ decision: z.literal('deny'), number: CHOICE.optional(), signature: b64url(128) }),
]);
export type PromptAnswer = z.infer<typeof promptAnswerSchema>;

/** A prompt id: 128 random bits, base64url. */
export const promptIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'not a prompt id');
