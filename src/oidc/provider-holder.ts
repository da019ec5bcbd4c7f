import type Provider from 'oidc-provider';

/** The running provider; replaced as a whole when signing keys rotate (the provider's keystore is fixed). */
export interface ProviderHolder {
  readonly current: Provider;
}
