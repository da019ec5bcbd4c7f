import type { MessagePurpose } from './delivery.js';
import type { Wording } from './wording.js';

export type VoicePart = { say: string } | { pause: number };

/** What a call says, in the recipient's language: the code read twice, one character at a time with pauses. */
export interface VoiceScript {
  language: string;
  parts: VoicePart[];
}

export function voiceScript(w: Wording, purpose: MessagePurpose, code: string): VoiceScript {
  const { t } = w;
  // One character per utterance, a second apart: read as "4 … 2 … 7", never as "four hundred twenty-seven".
  const slowly = [...code].flatMap((c): VoicePart[] => [{ say: c }, { pause: 1 }]);
  return {
    language: t('sms:voice.language'),
    parts: [
      { say: t('sms:voice.intro', { sender: w.sender, what: t(`sms:what.${purpose}`) }) },
      { pause: 1 },
      ...slowly,
      { say: t('sms:voice.repeat') },
      { pause: 1 },
      ...slowly,
      { say: t('sms:voice.goodbye') },
    ],
  };
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The script as TwiML (`<Say>` and `<Pause>` verbs). */
export function toTwiml(script: VoiceScript): string {
  const verbs = script.parts.map((p) => ('say' in p ? `<Say language="${xml(script.language)}">${xml(p.say)}</Say>` : `<Pause length="${p.pause}"/>`));
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${verbs.join('')}</Response>`;
}

/** The script as one line of text, for a provider that speaks it with its own engine. */
export const toText = (script: VoiceScript): string => script.parts.flatMap((p) => ('say' in p ? [p.say] : [])).join(' ');
