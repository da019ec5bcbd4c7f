/**
 * Every Redis key is built here. Each key carries its own hash tag `{…}` so that on a Redis Cluster
 * a key and anything it must be updated with in one command live in the same slot.
 */
export const keys = {
  /** `id` and `code` are the adapter's keyed hashes, never the bearer values themselves. */
  oidc: (model: string, id: string) => `oidc:{${model}:${id}}`,
  oidcUid: (model: string, uid: string) => `oidc:uid:{${model}:${uid}}`,
  oidcUserCode: (model: string, code: string) => `oidc:user-code:{${model}:${code}}`,
  oidcGrant: (grantId: string) => `oidc:grant:{${grantId}}`,
  ephemeral: (key: string) => `idp:{${key}}`,
};
