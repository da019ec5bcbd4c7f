import type { Config } from '../config.js';
import { badRequest, notFound } from '../lib/errors.js';
import type { OrganizationRepository } from '../store/repositories/organization.repository.js';
import type { SettingsRepository } from '../store/repositories/settings.repository.js';
import {
  clientMfaPolicySchema,
  defaultSettings,
  mergeLayer,
  mergeSettings,
  parseStoredLayer,
  roleLayers,
  settingsPatchSchema,
  POLICY_METHOD,
  type EffectiveSettings,
  type MfaProvenance,
  type MfaSettings,
  type SettingsLayer,
  type SettingsPatch,
} from './settings.js';
import type { MfaMethod } from './types.js';

export interface SettingsServiceDeps {
  settings: SettingsRepository;
  organizations: OrganizationRepository;
  config: Pick<Config, 'lockout' | 'session'>;
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

function validatePatch(input: unknown, registered: readonly MfaMethod[], maxTimeoutSeconds: number): SettingsPatch {
  const parsed = settingsPatchSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys.join(',')}` : '';
    throw badRequest(`${issue.path.map(String).join('.') || 'settings'}${keys}: ${issue.message}`);
  }
  assertRegisteredMethods(parsed.data.mfa, registered, 'mfa');
  for (const [role, layer] of Object.entries(parsed.data.roles ?? {})) assertRegisteredMethods(layer?.mfa, registered, `roles.${role}.mfa`);
  // NIST SP 800-63B AAL2: reauthentication at least every 12 h, unless the operator raised the cap.
  const timeout = parsed.data.sessions?.session_timeout;
  if (timeout !== undefined && timeout > maxTimeoutSeconds) throw badRequest(`sessions.session_timeout: at most ${maxTimeoutSeconds} seconds on this server`);
  return parsed.data;
}

/** The settings in force for one login, and which layer set what (for the decision's reasons). */
export interface ResolvedSettings {
  settings: EffectiveSettings;
  provenance: MfaProvenance;
}

export function createSettingsService(deps: SettingsServiceDeps) {
  const defaults = defaultSettings(deps.config.lockout, deps.methods, deps.config.session);
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

  /** global ⊕ organisation ⊕ the user's roles ⊕ client. */
  async function resolve(input: { orgId?: string; roles?: readonly string[]; clientPolicy?: Record<string, unknown> | null }): Promise<ResolvedSettings> {
    const client = clientMfaPolicySchema.safeParse(input.clientPolicy ?? {});
    const layers: SettingsLayer[] = [
      { source: 'global', patch: await globalLayer() },
      { source: 'organization', patch: input.orgId ? await orgLayer(input.orgId) : undefined },
    ];
    const base = mergeSettings(defaults, layers).settings;
    return mergeSettings(defaults, [
      ...layers,
      ...roleLayers(base.roles, input.roles ?? []),
      { source: 'client', patch: client.success ? { mfa: client.data } : undefined },
    ]);
  }

  return {
    resolve,
    /** Effective settings for a user's organisation and, when given, a client's own MFA policy (no role layer). */
    async effective(orgId?: string, clientPolicy?: Record<string, unknown> | null): Promise<EffectiveSettings> {
      return (await resolve({ orgId, clientPolicy })).settings;
    },
    async patchGlobal(input: unknown): Promise<EffectiveSettings> {
      const patch = validatePatch(input, deps.methods, deps.config.session.maxTimeoutSeconds);
      await deps.settings.putGlobal(mergeLayer(parseStoredLayer(await deps.settings.getGlobal()), patch));
      cache.delete('global');
      return this.effective();
    },
    async getOrganization(slug: string): Promise<EffectiveSettings> {
      return this.effective((await orgBySlug(slug)).id);
    },
    async patchOrganization(slug: string, input: unknown): Promise<EffectiveSettings> {
      const patch = validatePatch(input, deps.methods, deps.config.session.maxTimeoutSeconds);
      const org = await orgBySlug(slug);
      await deps.organizations.updateSettings(org.id, mergeLayer(parseStoredLayer(org.settings), patch));
      cache.delete(`org:${org.id}`);
      return this.effective(org.id);
    },
  };
}

export type SettingsService = ReturnType<typeof createSettingsService>;
