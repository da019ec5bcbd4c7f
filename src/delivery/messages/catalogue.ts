import type { MessagePurpose } from '../delivery.js';

/** The wording of one language: SMS text, voice script and e-mail subjects. `site` is the IdP's host name. */
export interface Catalogue {
  /** The BCP 47 tag a text-to-speech engine reads the script in. */
  voiceLanguage: string;
  sms(purpose: MessagePurpose, code: string, site: string): string;
  voice: {
    intro(purpose: MessagePurpose, site: string): string;
    repeat: string;
    goodbye: string;
  };
  subjects: {
    code(purpose: MessagePurpose, site: string): string;
    destinationAdded(site: string): string;
    recoveryLink(site: string): string;
  };
}
