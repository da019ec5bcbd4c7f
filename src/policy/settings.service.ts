import type { Config } from '../config.js';
import { badRequest, notFound } from '../lib/errors.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { SettingsRepository } from '../store/repositories/settings.repository.js';
import {
  clientMfaPolicySchema,
  defaultSettings,
  mergeSettings,
  parseStoredLayer,
  settingsPatchSchema,
  POLICY_METHOD,
  type EffectiveSettings,
  type MfaSettings,
  type SettingsPatch,
} from './settings.js';
import type { MfaMethod } from './types.js';

export interface SettingsServiceDeps {
  settings: SettingsRepository;
  organizations: OrganizationRepository;
  config: Pick<Config, 'lockout'>;
  /** The methods a factor plug-in is registered for. */
  methods: readonly MfaMethod[];
}

/** Layers older than this are re-read, so a change made on one node applies everywhere within a second. */
const CACHE_MS = 1000;

/**
 * Refuses an mfa block that names a method no plug-in implements: accepted, it would ask users
 * for a factor nobody can enrol or use, and lock them out. `at` prefixes the field named.
 */
export function assertRegisteredMethods(mfa: Partial<MfaSettings> | null | undefined, registered: readonly MfaMethod[], at: string): void {
  const missing = (m: MfaMethod) => !registered.includes(m);
  const policy = mfa?.policy === 'otp' || mfa?.policy === 'passkey' ? POLICY_METHOD[mfa.policy] : undefined;
  if (policy && missing(policy)) throw badRequest(`${at}.policy: ${mfa!.policy} needs the ${policy} method, which this server does not provide`);
  const i = mfa?.allowed_methods?.findIndex(missing) ?? -1;
  if (i >= 0) throw badRequest(`${at}.allowed_methods.${i}: ${mfa!.allowed_methods![i]} is not a method this server provides`);
}

function validatePatch(input: unknown, registered: readonly MfaMethod[]): SettingsPatch {
  const parsed = settingsPatchSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys.join(',')}` : '';
    throw badRequest(`${issue.path.map(String).join('.') || 'settings'}${keys}: ${issue.message}`);
  }
  assertRegisteredMethods(parsed.data.mfa, registered, 'mfa');
  return parsed.data;
}

const mergeLayer = (stored: SettingsPatch, patch: SettingsPatch): SettingsPatch => ({
  ...(stored.mfa || patch.mfa ? { mfa: { ...stored.mfa, ...patch.mfa } } : {}),
  ...(stored.lockout || patch.lockout ? { lockout: { ...stored.lockout, ...patch.lockout } } : {}),
  ...(stored.risk || patch.risk ? { risk: { ...stored.risk, ...patch.risk } } : {}),
});

export function createSettingsService(deps: SettingsServiceDeps) {
  const defaults = defaultSettings(deps.config.lockout, deps.methods);
  const cache = new Map<string, { at: number; layer: SettingsPatch }>();

  async function layer(key: string, load: () => Promise<unknown>): Promise<SettingsPatch> {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.layer;
    const value = parseStoredLayer(await load());
    cache.set(key, { at: Date.now(), layer: value });
    return value;
  }
  const globalLayer = () => layer('global', () => deps.settings.getGlobal());
  const orgLayer = (orgId: string) => layer(`org:${orgId}`, async () => (await deps.organizations.findById(orgId))?.settings);

  async function orgBySlug(slug: string) {
    const org = await deps.organizations.findBySlug(slug);
    if (!org) throw notFound('no such organization');
    return org;
  }

  return {
    /** Effective settings for a user's organisation and, when given, a client's own MFA policy. */
    async effective(orgId?: string, clientPolicy?: Record<string, unknown> | null): Promise<EffectiveSettings> {
      const client = clientMfaPolicySchema.safeParse(clientPolicy ?? {});
      return mergeSettings(defaults, await globalLayer(), orgId ? await orgLayer(orgId) : undefined, client.success ? { mfa: client.data } : undefined);
    },
    async patchGlobal(input: unknown): Promise<EffectiveSettings> {
      const patch = validatePatch(input, deps.methods);
      await deps.settings.putGlobal(mergeLayer(parseStoredLayer(await deps.settings.getGlobal()), patch));
      cache.delete('global');
      return this.effective();
    },
    async getOrganization(slug: string): Promise<EffectiveSettings> {
      return this.effective((await orgBySlug(slug)).id);
    },
    async patchOrganization(slug: string, input: unknown): Promise<EffectiveSettings> {
      const patch = validatePatch(input, deps.methods);
      const org = await orgBySlug(slug);
      await deps.organizations.updateSettings(org.id, mergeLayer(parseStoredLayer(org.settings), patch));
      cache.delete(`org:${org.id}`);
      return this.effective(org.id);
    },
  };
}

export type SettingsService = ReturnType<typeof createSettingsService>;
