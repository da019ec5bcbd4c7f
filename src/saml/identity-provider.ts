import crypto from 'node:crypto';
import samlify from 'samlify';
import type { Logger } from '../lib/logger.js';
import type { SamlKeyStore } from './key-store.js';
import './schema-validator.js';

const { binding, format } = samlify.Constants.namespace;

export interface SamlIdp {
  idp: ReturnType<typeof samlify.IdentityProvider>;
  /** The EntityDescriptor, built once per key set, and its ETag. */
  metadata: { xml: string; etag: string };
}

export interface SamlIdpHolder {
  readonly current: SamlIdp;
  /** Rebuilds the IdP when the key set changed (a rotation or a retirement on any node); true when it did. */
  reload(): Promise<boolean>;
  close(): void;
}

/** Where the IdP is reached, all under the issuer (SAML 2.0 Metadata §2.4.3). */
export const samlEndpoints = (issuer: string) => ({
  entityID: `${issuer}/saml/metadata`,
  sso: `${issuer}/saml/sso`,
  slo: `${issuer}/saml/slo`,
});

export async function createSamlIdpHolder(deps: { issuer: string; keyStore: SamlKeyStore; reloadSeconds: number; logger: Logger }): Promise<SamlIdpHolder> {
  const urls = samlEndpoints(deps.issuer);
  const build = async (): Promise<{ idp: SamlIdp; version: string }> => {
    const keys = await deps.keyStore.load();
    const description = {
      entityID: urls.entityID,
      wantAuthnRequestsSigned: false,
      nameIDFormat: [format.persistent, format.emailAddress, format.transient],
      singleSignOnService: [
        { Binding: binding.redirect, Location: urls.sso },
        { Binding: binding.post, Location: urls.sso },
      ],
      singleLogoutService: [
        { Binding: binding.redirect, Location: urls.slo },
        { Binding: binding.post, Location: urls.slo },
      ],
    };
    // The entity signs with the newest key only; the metadata also lists the certificates still in their overlap.
    // samlify hands the key on to node:crypto untouched: parsed once here rather than from PEM at every
    // signature, which costs OpenSSL 3 twice the RSA signature itself. Its types only list PEM strings.
    const privateKey = crypto.createPrivateKey(keys.signing.privateKey) as unknown as string;
    const idp = samlify.IdentityProvider({ ...description, privateKey, signingCert: keys.signing.certificate });
    // samlify's default child order puts SingleLogoutService after SingleSignOnService, which the
    // metadata schema (saml-schema-metadata-2.0, SSODescriptorType) refuses; this one is the schema's sequence.
    const xml = samlify
      .IdPMetadata({ ...description, signingCert: keys.certificates, elementsOrder: samlify.Constants.elementsOrder.idp.shibboleth })
      .getMetadata();
    return { idp: { idp, metadata: { xml, etag: `"${crypto.createHash('sha256').update(xml).digest('base64url').slice(0, 27)}"` } }, version: keys.version };
  };

  let state = await build();
  const reload = async (): Promise<boolean> => {
    const next = await build();
    if (next.version === state.version) return false;
    state = next;
    deps.logger.info({ keys: state.version }, 'SAML signing keys changed: identity provider rebuilt');
    return true;
  };
  const timer = setInterval(() => {
    reload().catch((err: unknown) => deps.logger.warn({ err }, 'SAML key reload failed'));
  }, deps.reloadSeconds * 1000);
  timer.unref();

  return {
    get current() {
      return state.idp;
    },
    reload,
    close: () => clearInterval(timer),
  };
}
