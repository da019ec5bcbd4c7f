/**
 * The name an authenticator app files a new account under (the otpauth URI's `issuer` and its label's
 * prefix): the organisation's display name, else the host of our issuer URL, never the URL itself.
 * A colon separates issuer from account in the label, so none may stand in the name.
 */
export function issuerLabel(displayName: string | null | undefined, issuer: string): string {
  const named = displayName?.replace(/:/g, ' ').replace(/\s+/g, ' ').trim();
  if (named) return named;
  return (URL.canParse(issuer) && new URL(issuer).hostname) || issuer;
}
