/**
 * The user handle a credential is created with (WebAuthn Level 3 §14.6.1: opaque, no personal
 * data): the account's UUID as its 16 bytes. A discoverable credential returns it in assertions,
 * where it must name the credential's owner.
 */
export const userHandleOf = (accountId: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(accountId.replace(/-/g, ''), 'hex'));

export const userHandleMatches = (handle: string | undefined, accountId: string): boolean =>
  handle !== undefined && Buffer.from(handle, 'base64url').equals(Buffer.from(userHandleOf(accountId)));
