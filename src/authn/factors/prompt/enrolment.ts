import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../../lib/clock.js';
import { sha256, type SecretBox } from '../../../lib/crypto.js';
import { z } from '../../../lib/zod.js';
import type { EphemeralStore } from '../../../store/ephemeral-store.js';
import type { PromptRepository } from '../../../store/repositories/prompt.repository.js';
import { FactorError, eventOf, type Enrolment } from '../../factor.js';
import { promptDescriptor } from './descriptor.js';
import { isUsableKey, registrationMessage, verifiesWith } from './device-key.js';
import { deviceRegistrationSchema } from './prompt.schema.js';

const ENROLMENT_SECONDS = 600;
const NO_BINDING = 'unbound';

/**
 * Registering a device: the start gives a nonce (and the VAPID key a browser subscribes with), the
 * device signs it with its new key, so the key registered is one the device holds. A nonce is good
 * once, for the session or login that asked for it.
 */
export function createPromptEnrolment(deps: {
  repo: PromptRepository;
  ephemeral: EphemeralStore;
  box: SecretBox;
  clock: Clock;
  vapidPublicKey: () => Promise<string>;
  allowLoopbackHttp: boolean;
}): Omit<Enrolment, 'view'> {
  const nonceKey = (accountId: string, binding: string) => `prompt-enrol:${accountId}:${sha256(binding)}`;
  const responseSchema = z.object({ credential: deviceRegistrationSchema(deps.allowLoopbackHttp), name: z.string().trim().min(1).max(64).optional() });

  return {
    async begin(accountId, _label, _issuer, _resume, binding = NO_BINDING) {
      const nonce = randomBytes(32).toString('base64url');
      await deps.ephemeral.set(nonceKey(accountId, binding), nonce, ENROLMENT_SECONDS);
      return { credentialId: randomUUID(), shown: { nonce, vapid_public_key: await deps.vapidPublicKey(), expires_in: ENROLMENT_SECONDS } };
    },
    async confirm(accountId, response, binding = NO_BINDING) {
      const parsed = responseSchema.safeParse(response);
      if (!parsed.success) throw new FactorError('malformed', 'credential must be a device registration: transport, public_key, proof (and subscription)');
      const { credential: device, name } = parsed.data;
      if (!isUsableKey(device.public_key)) throw new FactorError('malformed', 'public_key is not a P-256 key');
      if (device.transport === 'webhook' && !(await deps.repo.findWebhookOfUser(accountId))) {
        throw new FactorError('refused', "your organization's app does not send prompts");
      }
      const nonce = await deps.ephemeral.take(nonceKey(accountId, binding));
      if (!nonce) throw new FactorError('invalid_code', 'no device registration is pending');
      if (!verifiesWith(device.public_key, registrationMessage(nonce), device.proof))
        throw new FactorError('invalid_code', 'the proof is not signed by the key');
      const id = await deps.repo.registerDevice({
        userId: accountId,
        name: name ?? (device.transport === 'webpush' ? 'Browser' : 'Organization app'),
        transport: device.transport,
        publicJwk: device.public_key,
        subscriptionSealed: device.transport === 'webpush' ? deps.box.seal(JSON.stringify(device.subscription)) : null,
      });
      return eventOf(promptDescriptor, deps.clock.now(), id);
    },
  };
}
