import { parseArgs } from 'node:util';
import { API_SCOPES, type ApiScope } from './admin/api-key.service.js';
import type { Caller } from './admin/changed-by.js';
import { createClientBody } from './admin/client.schema.js';
import { SAML_OVERLAP_DAYS } from './admin/signing-keys.service.js';
import { createUserBody } from './admin/user.schema.js';
import { ConfigError, loadConfig } from './config.js';
import { createContainer } from './container.js';
import { IdpError, badRequest } from './lib/errors.js';
import { StartupError } from './lib/startup-error.js';
import { migrateToLatest, openDatabase } from './store/db.js';

const USAGE = `usage: npm run cli -- <command> [options]
  migrate                                     apply database migrations
  users create --external-id ID [--username U] [--email E] [--password P] [--roles a,b] [--organization slug]
  clients create --redirect-uri URI [--redirect-uri URI2] [--client-id ID] [--first-party] [--grant-types a,b]
  apikeys create --name NAME --scopes ${API_SCOPES.join(',')} [--organization slug]   (bound to one organization: sees only its users, clients and settings)
  keys rotate                                 add a signing key; older keys stay published until their tokens expire
  saml-keys rotate [--overlap-days N]         add a SAML signing key and certificate; the previous certificates stay
                                              in the metadata for N days (default ${SAML_OVERLAP_DAYS}) so service providers can pick up the new one`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'external-id': { type: 'string' },
    username: { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
    roles: { type: 'string' },
    organization: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'client-id': { type: 'string' },
    'first-party': { type: 'boolean' },
    'grant-types': { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'string' },
    'overlap-days': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

/** The operator at the console reaches every organisation. */
const CLI: Caller = { actor: 'cli', organizationId: null };

const list = (v?: string) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

async function main(): Promise<void> {
  const [area, action] = positionals;
  if (values.help || !area) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig(process.env, { logLevel: process.env.LOG_LEVEL ?? 'warn' });

  if (area === 'migrate') {
    const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: config.databaseSchema });
    const result = await migrateToLatest(handle.db, config.databaseSchema);
    console.log(`migrations applied: ${result.results?.map((r) => r.migrationName).join(', ') || 'none (up to date)'}`);
    await handle.close();
    return;
  }

  const c = await createContainer(config);
  try {
    const key = `${area} ${action ?? ''}`.trim();
    if (key === 'users create') {
      const input = createUserBody.parse({
        user: {
          external_id: values['external-id'],
          username: values.username,
          email: values.email,
          password: values.password,
          roles: list(values.roles),
          organization: values.organization,
        },
      }).user;
      const user = await c.userService.create(input, CLI);
      console.log(JSON.stringify({ id: user.id, external_id: user.externalId, status: user.status }));
    } else if (key === 'clients create') {
      const input = createClientBody.parse({
        client_id: values['client-id'],
        redirect_uris: values['redirect-uri'],
        first_party: values['first-party'],
        grant_types: list(values['grant-types']),
      });
      console.log(JSON.stringify(await c.clientService.create(input, CLI), null, 2));
    } else if (key === 'apikeys create') {
      const scopes = list(values.scopes) ?? [];
      const bad = scopes.filter((s) => !(API_SCOPES as readonly string[]).includes(s));
      if (!values.name || scopes.length === 0 || bad.length)
        throw new ConfigError(`--name and --scopes (${API_SCOPES.join(', ')}) are required${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
      const org = values.organization === undefined ? undefined : await c.organizations.findBySlug(values.organization);
      if (org === undefined && values.organization !== undefined) throw badRequest(`--organization: unknown organization ${values.organization}`);
      const { key: apiKey } = await c.apiKeyAdmin.create(
        { name: values.name, scopes: scopes as ApiScope[], organization_id: org?.id ?? null },
        { ...CLI, keyId: null, scopes: API_SCOPES },
      );
      console.log(`API key (shown once, store it now): ${apiKey}`);
    } else if (key === 'keys rotate') {
      const kid = await c.signingKeys.rotateOidc(CLI);
      console.log(`new signing key ${kid}; running nodes switch to it within ${c.config.keys.reloadSeconds} s`);
    } else if (key === 'saml-keys rotate') {
      const days = values['overlap-days'] === undefined ? SAML_OVERLAP_DAYS : Number(values['overlap-days']);
      if (!Number.isInteger(days) || days < 0) throw new ConfigError('--overlap-days must be a whole number of days');
      const id = await c.signingKeys.rotateSaml(CLI, days);
      console.log(`new SAML signing key ${id}; running nodes switch to it within ${c.config.keys.reloadSeconds} s`);
    } else {
      console.error(USAGE);
      process.exitCode = 2;
    }
  } finally {
    await c.close();
  }
}

main().catch((err: unknown) => {
  const e = err as { issues?: { path: PropertyKey[]; message: string }[]; message?: string };
  if (e.issues) console.error(`invalid input: ${e.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`);
  else if (err instanceof IdpError || err instanceof StartupError) console.error(e.message);
  else console.error(err);
  process.exitCode = 1;
});
