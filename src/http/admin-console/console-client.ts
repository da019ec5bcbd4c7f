import type { ClientRecord, ClientRepository } from '../../store/repositories/client.repository.js';
import type { OrganizationRepository } from '../../store/repositories/organization.repository.js';

/** The console's client id at its own IdP. */
export const CONSOLE_CLIENT_ID = 'admin-console';

/** Where the IdP sends the console's authorization responses and where a sign-out ends. */
export const consoleUrls = (issuer: string) => ({
  redirectUri: `${issuer}/admin/callback`,
  postLogoutRedirectUri: `${issuer}/admin/`,
});

/**
 * A public client with PKCE (RFC 7636; RFC 9700 §2.1.1), not a confidential one: the code is
 * redeemed by this server alone, bound to a verifier that never leaves the sealed login cookie, so a
 * client secret would prove nothing more, and there is no secret for the nodes to agree on. The
 * ID token's signature is still verified against the IdP's JWKS at the exchange.
 */
function consoleRecord(issuer: string, organizationId: string): ClientRecord {
  const { redirectUri, postLogoutRedirectUri } = consoleUrls(issuer);
  return {
    clientId: CONSOLE_CLIENT_ID,
    clientSecretSealed: null,
    firstParty: true,
    mfaPolicy: null,
    organizationId,
    metadata: {
      client_name: 'Admin console',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutRedirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  };
}

/** Key by key: PostgreSQL's jsonb keeps its own key order. */
const sameMetadata = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(b).every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));

/**
 * Registers the console at start-up, idempotently on every node: inserted when absent, brought back
 * to what it must be when someone changed it (the issuer moved, an operator edited it).
 */
export async function ensureConsoleClient(deps: {
  clients: ClientRepository;
  organizations: Pick<OrganizationRepository, 'ensure'>;
  issuer: string;
}): Promise<void> {
  const organizationId = (await deps.organizations.ensure('default')).id;
  const wanted = consoleRecord(deps.issuer, organizationId);
  const found = await deps.clients.find(CONSOLE_CLIENT_ID);
  if (!found) {
    if (await deps.clients.insert(wanted)) return;
  } else if (sameMetadata(found.metadata, wanted.metadata) && found.firstParty && found.clientSecretSealed === null && found.mfaPolicy === null) {
    return;
  }
  // Another node inserted it first, or it drifted: the same values land whoever writes last.
  await deps.clients.update(CONSOLE_CLIENT_ID, wanted);
}
