/** A published signing key (OIDC or SAML) as operators see it: never its private part. */
export interface PublishedKey {
  id: string;
  alg: string;
  createdAt: Date;
  /** When it leaves the published set; null while it is the one that signs. */
  retiresAt: Date | null;
  /** PEM, for keys published as an X.509 certificate (SAML). */
  certificate?: string;
}
