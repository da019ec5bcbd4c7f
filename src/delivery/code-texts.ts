import type { MessagePurpose } from './delivery.js';
import type { PhoneChannel } from './providers/provider.js';
import { toText, voiceScript, type VoiceScript } from './voice-script.js';
import type { Wording } from './wording.js';

// GSM 03.38: the basic alphabet (one septet each) and its extension table (an escape and a septet each).
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM7_EXTENDED = new Set('^{}\\[~]|€');

/** Whether `text` goes out as one SMS: 160 septets in GSM-7, else 70 UCS-2 characters. */
export function fitsOneSms(text: string): boolean {
  let septets = 0;
  for (const c of text) {
    if (GSM7_BASIC.has(c)) septets += 1;
    else if (GSM7_EXTENDED.has(c)) septets += 2;
    else return [...text].length <= 70;
  }
  return septets <= 160;
}

/**
 * The SMS with a code: the code first, then, alone on the last line, the origin-bound form
 * (`@host #code`, WebOTP) that browsers offer to fill in on this site only. Without the sender's
 * name when a long one would split the message in two.
 */
export function smsText(w: Wording, purpose: MessagePurpose, code: string): string {
  const vars = { code, sender: w.sender, site: w.site, what: w.t(`sms:what.${purpose}`) };
  const full = w.t('sms:text', vars);
  return fitsOneSms(full) ? full : w.t('sms:text_short', vars);
}

/** What a provider gets for a phone channel: the SMS text, or the call's script and the same as one line. */
export function phoneTexts(w: Wording, channel: PhoneChannel, purpose: MessagePurpose, code: string): { text: string; voice: VoiceScript } {
  const voice = voiceScript(w, purpose, code);
  return { text: channel === 'voice' ? toText(voice) : smsText(w, purpose, code), voice };
}
