import type { FindAccount } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { ClientRepository } from '../store/repositories/client.repository.js';
import type { AdapterClass } from './adapter.js';
import { allowClientFormTargets } from './form-targets.js';
import type { KeyStore } from './key-store.js';
import { buildProvider, type ProviderDeps } from './provider.js';
import type { ProviderHolder } from './provider-holder.js';
import type { ProviderPages } from './render-error.js';

export interface ProviderFactoryDeps {
  config: Config;
  keyStore: KeyStore;
  clients: Pick<ClientRepository, 'find'>;
  adapter: AdapterClass;
  findAccount: FindAccount;
  logger: Logger;
  pages: ProviderPages;
  extend?: Partial<Pick<ProviderDeps, 'policy' | 'extraTokenClaims' | 'sessions' | 'accessTokenTtl'>>;
}

/**
 * Builds the provider from the keys in the database and rebuilds it when they change, so a
 * rotation made on any node reaches every node within `keys.reloadSeconds`.
 */
export async function createProviderHolder(deps: ProviderFactoryDeps): Promise<ProviderHolder & { reload(): Promise<boolean>; close(): void }> {
  const build = async (): Promise<{ provider: Provider; version: string }> => {
    const keys = await deps.keyStore.load();
    const provider = buildProvider({
      ...deps.extend,
      config: deps.config,
      adapter: deps.adapter,
      keys,
      findAccount: deps.findAccount,
      clients: deps.clients,
      pages: deps.pages,
    });
    provider.on('server_error', (_ctx, err) => deps.logger.error({ err }, 'oidc-provider server error'));
    allowClientFormTargets(provider);
    return { provider, version: keys.version };
  };
  let state = await build();

  const reload = async (): Promise<boolean> => {
    if ((await deps.keyStore.version()) === state.version) return false;
    state = await build();
    deps.logger.info({ keys: state.version }, 'signing keys changed: provider reloaded');
    return true;
  };
  const timer = setInterval(() => {
    reload().catch((err) => deps.logger.warn({ err }, 'key reload failed'));
  }, deps.config.keys.reloadSeconds * 1000);
  timer.unref();

  return {
    get current() {
      return state.provider;
    },
    reload,
    close: () => clearInterval(timer),
  };
}
