import type { CredentialRepository } from '../../../store/repositories/credential.repository.js';
import type { PromptDevice } from '../../../store/repositories/prompt.repository.js';
import { eventOf, type Factor } from '../../factor.js';
import { promptDescriptor } from './descriptor.js';
import { createPromptEnrolment } from './enrolment.js';
import type { PromptDeps, PromptService } from './prompts.js';
import { challengeView } from './prompt.view.js';

/** A prompt device as its owner and admins see it: never its key or push subscription. */
const deviceView = (d: PromptDevice) => ({
  id: d.id,
  name: d.name,
  transport: d.transport,
  created_at: d.createdAt.toISOString(),
  last_used_at: d.lastUsedAt?.toISOString() ?? null,
});

/**
 * Push approval: devices are registered through self-service (`/api/v1/mfa/prompt/enroll` and
 * `/confirm`) and managed one by one under `/api/v1/mfa/prompt-devices`; a login starts a prompt at
 * `/interaction/{uid}/mfa/prompt/begin` and polls `/status` until the device's answer is in.
 */
export function createPromptFactor(
  deps: Pick<PromptDeps, 'repo' | 'ephemeral' | 'box' | 'clock' | 'allowLoopbackHttp'> & { service: PromptService; credentials: CredentialRepository },
): Factor {
  const { repo, service } = deps;
  return {
    descriptor: promptDescriptor,
    paths: { challenge: 'prompt', manage: 'prompt', finish: 'status' },
    challengeView,
    // Nothing is typed: the answer is the device's, read from the prompt.
    recognizes: () => false,
    async verify(ctx) {
      return eventOf(promptDescriptor, ctx.now, await service.settle(ctx));
    },
    challenge: {
      start: (ctx) => service.start(ctx),
      // The state stays while the device has not answered; the prompt's own compare-and-sets make each answer count once.
      answered: 'until_verified',
      waiting: (ctx) => service.waiting(ctx),
    },
    enrolment: { ...createPromptEnrolment({ ...deps, vapidPublicKey: service.vapidPublicKey }), view: '' },
    remove: async (accountId) => (await deps.credentials.deleteKind(accountId, promptDescriptor.method)) > 0,
    selfService: {
      summaryKey: 'prompt',
      status: async (_accountId, active) => ({ enrolled: active > 0, count: active }),
      enrolmentBody: ({ shown }) => shown,
      credentials: {
        collection: 'prompt-devices',
        list: async (accountId) => (await repo.listDevices(accountId)).map(deviceView),
        async rename(accountId, id, name) {
          if (!(await repo.renameDevice(accountId, id, name))) return undefined;
          const renamed = await repo.findDevice(accountId, id);
          return renamed && deviceView(renamed);
        },
        remove: (accountId, id) => repo.removeDevice(accountId, id),
      },
    },
  };
}
