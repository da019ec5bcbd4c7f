import type { Catalogue } from './catalogue.js';

const what = { sign_in: 'Anmeldecode', verify_destination: 'Bestätigungscode', recovery: 'Wiederherstellungscode', step: 'Bestätigungscode' } as const;

export const de: Catalogue = {
  voiceLanguage: 'de-DE',
  sms: (purpose, code, site) => `${code} ist Ihr ${what[purpose]} für ${site}. Geben Sie ihn niemals weiter.\n\n@${site} #${code}`,
  voice: {
    intro: (purpose, site) => `Guten Tag. Hier ist ${site}. Ihr ${what[purpose]} lautet:`,
    repeat: 'Ich wiederhole, Ihr Code lautet:',
    goodbye: 'Auf Wiederhören.',
  },
  subjects: {
    code: (purpose, site) => `Ihr ${what[purpose]} für ${site}`,
    destinationAdded: (site) => `Ihrem Konto bei ${site} wurde eine neue Anmeldemethode hinzugefügt`,
    recoveryLink: (site) => `Ihr Konto bei ${site} wiederherstellen`,
  },
};
