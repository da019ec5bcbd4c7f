import type { AuditService } from '../audit/audit.service.js';
import { notFound } from '../lib/errors.js';
import type { SecretBox } from '../lib/crypto.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { PromptRepository } from '../store/repositories/prompt.repository.js';
import { reaches, type Caller } from './changed-by.js';

/**
 * An organisation's own app as a prompt channel: prompts for its users' app-registered devices are
 * POSTed to its URL, signed with its secret (sealed at rest, never shown again).
 */
export function createPromptWebhookService(deps: {
  organizations: Pick<OrganizationRepository, 'findBySlug'>;
  repo: Pick<PromptRepository, 'findWebhook' | 'putWebhook' | 'removeWebhook'>;
  box: SecretBox;
  audit: AuditService;
}) {
  async function reachable(slug: string, by: Caller) {
    const org = await deps.organizations.findBySlug(slug);
    if (!org || !reaches(by, org.id)) throw notFound('no such organization');
    return org;
  }
  const record = (type: string, org: { id: string; slug: string }, by: Caller) =>
    deps.audit.record({
      type,
      outcome: 'success',
      actor: by.actor,
      ip: by.ip,
      requestId: by.requestId,
      organizationId: org.id,
      data: { organization: org.slug },
    });

  return {
    async get(slug: string, by: Caller) {
      const hook = await deps.repo.findWebhook((await reachable(slug, by)).id);
      if (!hook) throw notFound('no prompt webhook is configured');
      return { url: hook.url, updated_at: hook.updatedAt.toISOString() };
    },
    async put(slug: string, input: { url: string; secret: string }, by: Caller) {
      const org = await reachable(slug, by);
      await deps.repo.putWebhook(org.id, input.url, deps.box.seal(input.secret));
      await record('admin.prompt_webhook.updated', org, by);
    },
    async remove(slug: string, by: Caller) {
      const org = await reachable(slug, by);
      if (!(await deps.repo.removeWebhook(org.id))) throw notFound('no prompt webhook is configured');
      await record('admin.prompt_webhook.removed', org, by);
    },
  };
}

export type PromptWebhookService = ReturnType<typeof createPromptWebhookService>;
