/**
 * Control characters (Unicode category Cc: C0, DEL, C1) belong in no identifier, name or secret a
 * client sends us. PostgreSQL refuses NUL in text and jsonb; the others only serve log and header
 * injection.
 */
const CONTROL_CHARACTER = /\p{Cc}/u;

export const hasControlCharacter = (s: string): boolean => CONTROL_CHARACTER.test(s);
