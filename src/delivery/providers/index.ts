import type { SecretBox } from '../../lib/crypto.js';
import type { DeliveryProviderRow } from '../../store/database.js';
import type { CodeProvider } from './provider.js';
import { createTwilioProvider, type TwilioConfig } from './twilio.js';
import { createWebhookProvider, type WebhookConfig } from './webhook.js';

/** The provider a stored row describes, its secret opened for this send only. */
export function providerFor(row: DeliveryProviderRow, box: SecretBox, now: () => number): CodeProvider {
  const secret = box.open(row.secretSealed);
  return row.type === 'twilio'
    ? createTwilioProvider(row.config as unknown as TwilioConfig, secret)
    : createWebhookProvider(row.config as unknown as WebhookConfig, secret, now);
}
