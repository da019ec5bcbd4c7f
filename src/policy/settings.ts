import { z } from '../lib/zod.js';
import { parseCidr } from './networks.js';
import { LOCALES } from '../i18n/i18n.js';
import { MFA_METHODS, type MfaMethod } from './types.js';

/** The policies that name one method: the method each one requires. */
export const POLICY_METHOD = { otp: 'totp', passkey: 'passkey' } as const satisfies Record<string, MfaMethod>;

/** The `mfa` block of the settings API (snake_case, as everywhere in the API). */
export const mfaSettingsSchema = z
  .object({
    policy: z.enum(['disabled', 'any', 'otp', 'passkey']),
    allowed_methods: z.array(z.enum(MFA_METHODS)).min(1).max(MFA_METHODS.length),
    enforce_enrollment: z.boolean(),
    grace_period_seconds: z.number().int().min(0).max(31_536_000),
    required_for_roles: z.array(z.string().regex(/^[a-z0-9_.:-]{1,64}$/)).max(100),
    reauth_interval_minutes: z.number().int().min(0).max(525_600),
    // NIST SP 800-63B: a remembered device is at most an AAL1-long (30 day) authenticator.
    trusted_device_duration_days: z.number().int().min(0).max(30),
    /** The least assurance any login under this layer ends with; across layers the strictest wins. */
    min_acr: z.enum(['aal1', 'aal2', 'aal3']).optional(),
  })
  .strict();

export const roleName = z.string().regex(/^[a-z0-9_.:-]{1,64}$/);

const trustedNetworkSchema = z
  .object({
    name: z.string().min(1).max(64),
    cidr: z
      .string()
      .max(64)
      .refine((c) => parseCidr(c) !== undefined, 'must be an IPv4 or IPv6 address or CIDR'),
    skip_mfa: z.boolean(),
  })
  .strict();

/** Networks a login can come from: named CIDRs, some of which need no second factor, and whether anywhere else is refused. */
export const networkSettingsSchema = z
  .object({
    trusted: z.array(trustedNetworkSchema).max(200),
    block_unknown: z.boolean(),
  })
  .strict();

export const lockoutSettingsSchema = z
  .object({
    max_failures: z.number().int().min(1).max(100),
    lock_minutes: z.array(z.number().int().min(1).max(10_080)).min(1).max(10),
    mfa_max_failures: z.number().int().min(1).max(100),
  })
  .strict();

const cidr = z
  .string()
  .max(64)
  .refine((c) => c.includes('/') && parseCidr(c) !== undefined, 'must be an IPv4 or IPv6 CIDR (address/prefix)');

/** The `risk` block: the thresholds that turn the risk score into a recommendation, and the denied networks. */
export const riskSettingsSchema = z
  .object({
    challenge_threshold: z.number().min(0).max(1),
    deny_threshold: z.number().min(0).max(1),
    deny_list: z.array(cidr).max(1000),
    /** Each new sign-in is scored too: `challenge` asks for a second factor, `deny` refuses (off unless an operator turns it on). */
    adaptive: z.boolean(),
  })
  .strict();

/**
 * The `sessions` block: how long an SSO session lives and where it may be used. Times are seconds.
 * `session_timeout` is also capped by the operator's `session.maxTimeoutSeconds` (checked on write).
 */
export const sessionSettingsSchema = z
  .object({
    session_timeout: z.number().int().min(1),
    idle_timeout: z.number().int().min(1),
    /** 0: no limit. A login past the limit ends the account's oldest sessions. */
    max_concurrent_sessions: z.number().int().min(0).max(1000),
    single_session_mode: z.boolean(),
    allow_remember_me: z.boolean(),
    // NIST SP 800-63B: 30 days is the longest an AAL1 session may last without reauthentication.
    remember_me_duration: z.number().int().min(1).max(2_592_000),
    rotate_refresh_tokens: z.boolean(),
    bind_to_ip: z.boolean(),
    bind_to_device: z.boolean(),
  })
  .strict();

/** The `break_glass` block: whether one admin may approve their own emergency request, and what a login must reach to use a grant. */
export const breakGlassSettingsSchema = z
  .object({
    allow_self_approval: z.boolean(),
    min_acr: z.enum(['aal2', 'aal3']),
  })
  .strict();

/** A question's id: short and plain, as it is stored beside the user's answer and named in the API. */
export const questionIdSchema = z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z, 0-9, _ and -');

/**
 * The `questions` block: the questions users pick from, how many answers each user sets, and how
 * many of them a challenge asks. Security questions are something the user knows (NIST SP 800-63B
 * does not accept them as an authenticator): they never make AAL2, whatever these say.
 */
export const questionSettingsSchema = z
  .object({
    catalogue: z
      .array(z.object({ id: questionIdSchema, text: z.string().trim().min(3).max(200) }).strict())
      .min(1)
      .max(50)
      .refine((qs) => new Set(qs.map((q) => q.id)).size === qs.length, 'question ids must be unique'),
    required_answers: z.number().int().min(1).max(10),
    asked: z.number().int().min(1).max(10),
  })
  .strict();

/** What users are asked when no layer names questions of its own. */
export const DEFAULT_QUESTIONS: readonly { id: string; text: string }[] = [
  { id: 'first-pet', text: 'What was the name of your first pet?' },
  { id: 'first-school', text: 'What was the name of your first school?' },
  { id: 'childhood-street', text: 'What street did you live on as a child?' },
  { id: 'first-concert', text: 'What was the first concert you attended?' },
  { id: 'childhood-friend', text: 'What was the first name of your childhood best friend?' },
  { id: 'first-job', text: 'What was your first job?' },
  { id: 'parents-meeting', text: 'In what city did your parents meet?' },
  { id: 'first-car', text: 'What was the make and model of your first car?' },
];

/**
 * The `recovery` block: how long a confirmed recovery waits before a new factor can be enrolled
 * (the owner's chance to cancel), and how many trusted contacts a user may name and must approve.
 */
export const recoverySettingsSchema = z
  .object({
    waiting_period_hours: z.number().int().min(0).max(72),
    trusted_contacts_required: z.number().int().min(1).max(3),
    trusted_contacts_max: z.number().int().min(1).max(3),
  })
  .strict();

/**
 * The `step_webhooks` block: a platform that runs MFA through its own systems gets each MFA step of
 * its users' logins as an `auth.step` webhook on the named subscription, and answers it through the API.
 */
export const stepWebhookSettingsSchema = z
  .object({
    enabled: z.boolean(),
    subscription_id: z.uuid().nullable(),
  })
  .strict();

/**
 * The `otp` block: one-time codes sent by SMS, voice call or e-mail. A code lives at most ten minutes
 * (NIST SP 800-63B §5.1.3.1 asks for a short life); sends are limited per account, destination and
 * address against SMS pumping.
 */
export const otpSettingsSchema = z
  .object({
    code_ttl_seconds: z.number().int().min(30).max(600),
    resend_after_seconds: z.number().int().min(1).max(600),
    sends_per_account_per_hour: z.number().int().min(1).max(1000),
    sends_per_destination_per_10_minutes: z.number().int().min(1).max(1000),
    sends_per_ip_per_10_minutes: z.number().int().min(1).max(100_000),
  })
  .strict();

const httpsUrl = z
  .url({ protocol: /^https$/ })
  .max(2048)
  .describe('an https URL');

/**
 * The `branding` block: how the hosted pages, e-mails and consoles present the organisation. The
 * logo and support link must be https (a page served over TLS loads nothing insecure); the colour
 * is the primary buttons' and links'; `default_locale` is the language when neither the relying
 * party (`ui_locales`) nor the browser asks for one we speak.
 */
export const brandingSettingsSchema = z
  .object({
    display_name: z.string().trim().min(1).max(100).nullable(),
    logo_url: httpsUrl.nullable(),
    primary_color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour as #rrggbb')
      .nullable(),
    support_url: httpsUrl.nullable(),
    default_locale: z.enum(LOCALES),
  })
  .strict();

export const settingsPatchSchema = z
  .object({
    mfa: mfaSettingsSchema.partial().optional(),
    lockout: lockoutSettingsSchema.partial().optional(),
    networks: networkSettingsSchema.partial().optional(),
    /** Per role name: an mfa layer applied to users holding the role, between the organisation and the client; null removes it. */
    roles: z
      .record(roleName, z.object({ mfa: mfaSettingsSchema.partial() }).strict().nullable())
      .refine((r) => Object.keys(r).length <= 100, 'at most 100 roles')
      .optional(),
    risk: riskSettingsSchema.partial().optional(),
    sessions: sessionSettingsSchema.partial().optional(),
    break_glass: breakGlassSettingsSchema.partial().optional(),
    /** Any part of the block; `asked` above `required_answers`, or that above the questions, is lowered to fit where used. */
    questions: questionSettingsSchema.partial().optional(),
    recovery: recoverySettingsSchema.partial().optional(),
    step_webhooks: stepWebhookSettingsSchema.partial().optional(),
    otp: otpSettingsSchema.partial().optional(),
    branding: brandingSettingsSchema.partial().optional(),
  })
  .strict();

/** A client's own `mfa_policy`: any subset of the mfa block, overriding the organisation's. */
export const clientMfaPolicySchema = mfaSettingsSchema.partial();

export type MfaSettings = z.infer<typeof mfaSettingsSchema>;
export type LockoutSettings = z.infer<typeof lockoutSettingsSchema>;
export type NetworkSettings = z.infer<typeof networkSettingsSchema>;
export type RiskSettings = z.infer<typeof riskSettingsSchema>;
export type SessionSettings = z.infer<typeof sessionSettingsSchema>;
export type BreakGlassSettings = z.infer<typeof breakGlassSettingsSchema>;
export type QuestionSettings = z.infer<typeof questionSettingsSchema>;
export type RecoverySettings = z.infer<typeof recoverySettingsSchema>;
export type StepWebhookSettings = z.infer<typeof stepWebhookSettingsSchema>;
export type OtpSettings = z.infer<typeof otpSettingsSchema>;
export type BrandingSettings = z.infer<typeof brandingSettingsSchema>;
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
export type RoleLayers = Record<string, { mfa: Partial<MfaSettings> }>;
export interface EffectiveSettings {
  mfa: MfaSettings;
  lockout: LockoutSettings;
  networks: NetworkSettings;
  /** The role layers in force here (global, then the organisation's, key by key). */
  roles: RoleLayers;
  risk: RiskSettings;
  sessions: SessionSettings;
  break_glass: BreakGlassSettings;
  questions: QuestionSettings;
  recovery: RecoverySettings;
  step_webhooks: StepWebhookSettings;
  otp: OtpSettings;
  branding: BrandingSettings;
}

/**
 * The defaults, allowing the methods this server provides among those allowed by default, so that
 * what GET shows can be PATCHed back as it is.
 */
export function defaultSettings(
  lockout: { maxFailures: number; lockMinutes: number[]; mfaMaxFailures: number },
  registered: readonly MfaMethod[],
  session: { absoluteSeconds: number; idleSeconds: number },
): EffectiveSettings {
  // Email codes and security questions are weaker (NIST SP 800-63B rev 4, ASVS 5): only when an operator adds them.
  const byDefault: readonly MfaMethod[] = ['totp', 'passkey', 'backup_code', 'sms', 'voice', 'prompt'];
  return {
    mfa: {
      policy: 'any',
      allowed_methods: byDefault.filter((m) => registered.includes(m)),
      enforce_enrollment: false,
      grace_period_seconds: 0,
      required_for_roles: [],
      reauth_interval_minutes: 0,
      trusted_device_duration_days: 0,
    },
    lockout: { max_failures: lockout.maxFailures, lock_minutes: lockout.lockMinutes, mfa_max_failures: lockout.mfaMaxFailures },
    networks: { trusted: [], block_unknown: false },
    roles: {},
    risk: { challenge_threshold: 0.5, deny_threshold: 0.9, deny_list: [], adaptive: false },
    sessions: {
      session_timeout: session.absoluteSeconds,
      idle_timeout: session.idleSeconds,
      max_concurrent_sessions: 0,
      single_session_mode: false,
      allow_remember_me: true,
      remember_me_duration: 2_592_000,
      rotate_refresh_tokens: true,
      bind_to_ip: false,
      bind_to_device: false,
    },
    break_glass: { allow_self_approval: false, min_acr: 'aal2' },
    questions: { catalogue: DEFAULT_QUESTIONS.map((q) => ({ ...q })), required_answers: 3, asked: 2 },
    recovery: { waiting_period_hours: 24, trusted_contacts_required: 2, trusted_contacts_max: 3 },
    step_webhooks: { enabled: false, subscription_id: null },
    otp: {
      code_ttl_seconds: 300,
      resend_after_seconds: 30,
      sends_per_account_per_hour: 10,
      sends_per_destination_per_10_minutes: 5,
      sends_per_ip_per_10_minutes: 20,
    },
    branding: { display_name: null, logo_url: null, primary_color: null, support_url: null, default_locale: 'en' },
  };
}

const ACR_RANK = { aal1: 1, aal2: 2, aal3: 3 } as const;

/** A named layer of the mfa block: `global`, `organization`, `role:<name>`, `client`. */
export interface MfaLayer {
  source: string;
  mfa?: Partial<MfaSettings>;
}

/** Which layer decided what: the keys the decision's reasons name. */
export interface MfaProvenance {
  policy: string;
  min_acr?: string;
  required_for_roles: Record<string, string>;
}

/**
 * The mfa block through its layers. The most specific layer wins for each plain key (the mode
 * among them); the global layer replaces the defaults' `allowed_methods` and every later layer can
 * only narrow them (intersection); `required_for_roles` adds up; the strictest `min_acr` wins.
 */
export function mergeMfa(base: MfaSettings, layers: readonly MfaLayer[]): { mfa: MfaSettings; provenance: MfaProvenance } {
  const provenance: MfaProvenance = { policy: 'default', required_for_roles: {} };
  const mfa = layers.reduce<MfaSettings>((acc, { source, mfa: layer }) => {
    if (!layer) return acc;
    const next = { ...acc, ...layer };
    if (layer.policy) provenance.policy = source;
    if (layer.allowed_methods && source !== 'global') next.allowed_methods = acc.allowed_methods.filter((m) => layer.allowed_methods!.includes(m));
    if (layer.required_for_roles) {
      next.required_for_roles = [...new Set([...acc.required_for_roles, ...layer.required_for_roles])];
      for (const r of layer.required_for_roles) provenance.required_for_roles[r] ??= source;
    }
    const min = [acc.min_acr, layer.min_acr].filter((a) => a !== undefined).sort((a, b) => ACR_RANK[b] - ACR_RANK[a])[0];
    if (layer.min_acr && min === layer.min_acr && min !== acc.min_acr) provenance.min_acr = source;
    if (min) next.min_acr = min;
    return next;
  }, base);
  return { mfa, provenance };
}

/** The role layers of a user: those of the roles the user holds, in name order, so the same roles always give the same result. */
export function roleLayers(roles: RoleLayers, held: readonly string[]): SettingsLayer[] {
  return [...new Set(held)]
    .filter((r) => Object.hasOwn(roles, r))
    .sort()
    .map((r) => ({ source: `role:${r}`, patch: { mfa: roles[r]!.mfa } }));
}

const mergeRoles = (a: SettingsPatch['roles'], b: SettingsPatch['roles']): RoleLayers => {
  const out: RoleLayers = {};
  for (const layer of [a, b]) {
    for (const [name, value] of Object.entries(layer ?? {})) {
      if (value === null) delete out[name];
      else out[name] = { mfa: { ...out[name]?.mfa, ...value.mfa } };
    }
  }
  return out;
};

/** A named settings layer: `global`, `organization`, `role:<name>`, `client`. */
export interface SettingsLayer {
  source: string;
  patch?: SettingsPatch;
}

/**
 * The layers merged: the mfa block as `mergeMfa` does, the other blocks key by key, role layers
 * role by role. The role layers of the result are those of the global and organisation layers.
 */
export function mergeSettings(base: EffectiveSettings, layers: readonly SettingsLayer[]): { settings: EffectiveSettings; provenance: MfaProvenance } {
  const settings = layers.reduce<EffectiveSettings>(
    (acc, { patch }) => ({
      mfa: acc.mfa,
      lockout: { ...acc.lockout, ...patch?.lockout },
      networks: { ...acc.networks, ...patch?.networks },
      risk: { ...acc.risk, ...patch?.risk },
      sessions: { ...acc.sessions, ...patch?.sessions },
      break_glass: { ...acc.break_glass, ...patch?.break_glass },
      questions: { ...acc.questions, ...patch?.questions },
      recovery: { ...acc.recovery, ...patch?.recovery },
      step_webhooks: { ...acc.step_webhooks, ...patch?.step_webhooks },
      otp: { ...acc.otp, ...patch?.otp },
      branding: { ...acc.branding, ...patch?.branding },
      roles: mergeRoles(acc.roles, patch?.roles),
    }),
    base,
  );
  const { mfa, provenance } = mergeMfa(
    base.mfa,
    layers.map((l) => ({ source: l.source, mfa: l.patch?.mfa })),
  );
  return { settings: { ...settings, mfa }, provenance };
}

/** A stored layer merged with a patch: block by block, key by key; a role set to null is removed. */
export function mergeLayer(stored: SettingsPatch, patch: SettingsPatch): SettingsPatch {
  const block = <
    K extends 'mfa' | 'lockout' | 'networks' | 'risk' | 'sessions' | 'break_glass' | 'questions' | 'recovery' | 'step_webhooks' | 'otp' | 'branding',
  >(
    k: K,
  ) => (stored[k] || patch[k] ? { [k]: { ...stored[k], ...patch[k] } } : {});
  const roles = stored.roles || patch.roles ? { roles: mergeRoles(stored.roles, patch.roles) } : {};
  return {
    ...block('mfa'),
    ...block('lockout'),
    ...block('networks'),
    ...block('risk'),
    ...block('sessions'),
    ...block('break_glass'),
    ...block('questions'),
    ...block('recovery'),
    ...block('step_webhooks'),
    ...block('otp'),
    ...block('branding'),
    ...roles,
  };
}

/** Stored layers are re-validated on read: a row written by an older version never breaks a login. */
export function parseStoredLayer(raw: unknown): SettingsPatch {
  const parsed = settingsPatchSchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : {};
}
