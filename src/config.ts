import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from './lib/startup-error.js';

export { ConfigError };

const positiveInt = z.coerce.number().int().positive();
const tcpPort = z.coerce.number().int().min(0).max(65535);

// Strict at every level: a misspelt setting (YAML or IDP_*) stops start-up instead of being ignored.
export const configSchema = z
  .strictObject({
    nodeEnv: z.enum(['development', 'production', 'test']).default('development'),
    port: tcpPort,
    // Prometheus metrics on their own listener, loopback by default, so the public port never serves them.
    metricsPort: z.union([z.literal('off'), tcpPort], { error: 'must be a port number (0: any free port) or "off"' }),
    metricsHost: z.string().min(1),
    issuer: z.url().optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    dataDir: z.string().min(1),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    databaseSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .optional(),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .optional(),
    redisClusterNodes: z.array(z.string().regex(/^[^:]+:\d+$/, 'must be host:port')).optional(),
    redisKeyPrefix: z.string().default(''),
    encryptionKey: z.string().optional(),
    bootstrapApiKey: z.string().min(24, 'must be at least 24 characters').optional(),
    trustedProxies: z.array(z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'must be IP addresses or CIDRs')),
    session: z.strictObject({
      // The defaults of the `sessions` settings; `maxTimeoutSeconds` is the cap no organisation's session_timeout may pass.
      absoluteSeconds: positiveInt,
      idleSeconds: positiveInt,
      maxTimeoutSeconds: positiveInt,
    }),
    breakGlass: z.strictObject({ maxDurationSeconds: positiveInt.max(604_800) }),
    ttl: z.strictObject({
      accessTokenSeconds: positiveInt,
      idTokenSeconds: positiveInt,
      authorizationCodeSeconds: positiveInt.max(600),
      interactionSeconds: positiveInt,
      refreshTokenSeconds: positiveInt,
      clientCredentialsSeconds: positiveInt,
      // How long a temporary password an administrator issued for account recovery signs in (at most 7 days).
      temporaryPasswordSeconds: positiveInt.max(604_800),
    }),
    keys: z.strictObject({ reloadSeconds: positiveInt }),
    lockout: z.strictObject({ maxFailures: positiveInt.max(100), lockMinutes: z.array(positiveInt).min(1), mfaMaxFailures: positiveInt.max(100) }),
    mfa: z.strictObject({ attemptsPerChallenge: positiveInt.max(100), recentAuthSeconds: positiveInt }),
    webauthn: z.strictObject({
      rpName: z.string().min(1),
      // The issuer's origin is always allowed; these are further origins of the same RP ID (WebAuthn Level 3 §13.4.9).
      extraOrigins: z.array(z.url()),
      attestation: z.enum(['none', 'direct']),
      // PEM root certificates a `direct` attestation must chain to; a chain ending anywhere else is refused.
      trustAnchors: z.array(z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be PEM certificates' })),
      authenticatorAttachment: z.enum(['any', 'platform', 'cross-platform']),
      // COSE algorithm ids accepted at registration (-8 EdDSA, -7 ES256, -257 RS256).
      algorithms: z.array(z.number().int()).min(1),
      // `required` makes every passkey use user-verified; passwordless and AAL3 always require it.
      userVerification: z.enum(['preferred', 'required']),
      // AAL3 only from a credential bound to one device (not backup-eligible), as NIST SP 800-63B §5.1.8 asks of AAL3 keys.
      aal3RequiresDeviceBound: z.boolean(),
      challengeSeconds: positiveInt.max(600),
    }),
    rateLimit: z.strictObject({ loginPerIpPerMinute: positiveInt, samlPerIpPerMinute: positiveInt, sentinelPerKeyPerMinute: positiveInt }),
    limits: z.strictObject({ jsonBodyBytes: positiveInt }),
    apiAudience: z.string(),
    // SMS/voice providers are configured per organisation through the API; this bounds each provider's answer.
    delivery: z.strictObject({ timeoutMs: positiveInt.max(60_000) }).default({ timeoutMs: 5000 }),
    // Without `url`, e-mails go to the outbox under dataDir and are not sent (the log says so).
    smtp: z
      .strictObject({
        url: z
          .string()
          .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
          .optional(),
        // Default: no-reply@<issuer host>.
        from: z.string().min(3).max(256).optional(),
      })
      .default({}),
    // Where webhooks may go (server-side request forgery): private targets default to allowed outside production only.
    webhooks: z
      .strictObject({
        allowHttpLoopback: z.boolean().default(false),
        allowPrivateTargets: z.boolean().optional(),
        // 0: no timer (deliveries are sent only when something runs the worker).
        workerIntervalMs: z.coerce.number().int().min(0).default(5000),
        timeoutMs: positiveInt.max(30_000).default(5000),
      })
      .default({ allowHttpLoopback: false, workerIntervalMs: 5000, timeoutMs: 5000 }),
  })
  // Without anchors the attestation library skips the chain check: `direct` would then trust any self-made certificate.
  .refine((c) => c.webauthn.attestation === 'none' || c.webauthn.trustAnchors.length > 0, {
    message: 'direct attestation needs at least one trust anchor',
    path: ['webauthn', 'trustAnchors'],
  })
  .refine((c) => c.session.absoluteSeconds <= c.session.maxTimeoutSeconds, {
    message: 'must not exceed session.maxTimeoutSeconds (12 h by default, NIST SP 800-63B AAL2)',
    path: ['session', 'absoluteSeconds'],
  })
  .refine((c) => c.session.idleSeconds <= c.session.absoluteSeconds, {
    message: 'must not exceed session.absoluteSeconds',
    path: ['session', 'idleSeconds'],
  });

export type Config = z.infer<typeof configSchema> & { issuer: string; apiAudience: string; issuerFromPort: boolean };

const ENV_MAP: Record<string, string> = {
  NODE_ENV: 'nodeEnv',
  PORT: 'port',
  ISSUER: 'issuer',
  LOG_LEVEL: 'logLevel',
  DATABASE_URL: 'databaseUrl',
  REDIS_URL: 'redisUrl',
  REDIS_CLUSTER_NODES: 'redisClusterNodes',
  ENCRYPTION_KEY: 'encryptionKey',
  BOOTSTRAP_API_KEY: 'bootstrapApiKey',
  TRUSTED_PROXIES: 'trustedProxies',
  DATA_DIR: 'dataDir',
  METRICS_PORT: 'metricsPort',
  METRICS_HOST: 'metricsHost',
  SMTP_URL: 'smtp.url',
  SMTP_FROM: 'smtp.from',
};
const LIST_KEYS = new Set(['redisClusterNodes', 'trustedProxies', 'extraOrigins']);

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

function parseEnvValue(key: string, raw: string): unknown {
  if (LIST_KEYS.has(key))
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (raw.startsWith('[') || raw.startsWith('{')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** The settings found in the environment, and which variable set each path (to name it in errors). */
function fromEnv(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; origins: Map<string, string> } {
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || raw === '') continue;
    const keys = ENV_MAP[name] ? ENV_MAP[name].split('.') : name.startsWith('IDP_') ? name.slice(4).split('__').map(camel) : undefined;
    if (!keys) continue;
    setPath(values, keys, parseEnvValue(keys[keys.length - 1]!, raw));
    origins.set(keys.join('.'), name);
  }
  return { values, origins };
}

/** One line naming the setting, and the variable it came from when the environment set it. */
function describeIssue(issue: z.core.$ZodIssue, origins: Map<string, string>): string {
  const at = (p: PropertyKey[]) => p.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys.map((k) => origins.get(at([...issue.path, k])) ?? at([...issue.path, k]));
    return `invalid configuration: unknown setting ${unknown.join(', ')}`;
  }
  const path = at(issue.path);
  const origin = origins.get(path) ?? [...origins].find(([key]) => key.startsWith(`${path}.`))?.[1];
  return `invalid configuration: ${path || '(root)'}${origin && origin !== path ? ` (${origin})` : ''}: ${issue.message}`;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** The folder holding package.json, config/ and views/, whether we run from src/ or dist/src/. */
export const projectRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

/** The page templates. */
export const viewsDir = path.join(projectRoot, 'views');

/** The message catalogues of every page, e-mail and SMS, one folder per language. */
export const localesDir = path.join(projectRoot, 'locales');

/** Defaults from config/default.yaml, then the environment, then explicit overrides (tests). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Record<string, unknown> = {}): Config {
  const defaults = YAML.parse(fs.readFileSync(path.join(projectRoot, 'config', 'default.yaml'), 'utf8')) as Record<string, unknown>;
  const fromEnvironment = fromEnv(env);
  const parsed = configSchema.safeParse(merge(merge(defaults, fromEnvironment.values), overrides));
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error.issues[0]!, fromEnvironment.origins));
  return withIssuer({ ...parsed.data, issuerFromPort: !parsed.data.issuer }, parsed.data.issuer ?? `http://localhost:${parsed.data.port}`);
}

function withIssuer<C extends Omit<Config, 'issuer' | 'apiAudience'> & { apiAudience?: string }>(c: C, rawIssuer: string): Config {
  const issuer = rawIssuer.replace(/\/$/, '');
  return { ...c, issuer, apiAudience: c.apiAudience || `${issuer}/api` };
}

/** With PORT=0 the port, and so the default issuer, is only known once the socket is bound. */
export function bindPort(config: Config, port: number): Config {
  if (!config.issuerFromPort) return { ...config, port };
  const { apiAudience, ...rest } = config;
  const defaultAudience = `${config.issuer}/api`;
  return withIssuer({ ...rest, port, apiAudience: apiAudience === defaultAudience ? '' : apiAudience }, `http://localhost:${port}`);
}
