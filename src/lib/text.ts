/**
 * Control characters (Unicode category Cc: C0, DEL, C1) belong in no identifier, name or secret a
 * client sends us. PostgreSQL refuses NUL in text and jsonb; the others only serve log and header
 * injection.
 */
const CONTROL_CHARACTER = /\p{Cc}/u;

export const hasControlCharacter = (s: string): boolean => CONTROL_CHARACTER.test(s);

/** Characters XML 1.0 (§2.2) does not allow in a document at all, even escaped. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const MARKUP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe as element content or a quoted attribute value in XML and HTML; characters XML cannot carry are dropped. */
export const escapeMarkup = (s: string): string => s.replace(NOT_XML_CHAR, '').replace(/[&<>"']/g, (c) => MARKUP[c]!);
