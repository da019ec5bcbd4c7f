import type { Catalogue } from './catalogue.js';

const what = { sign_in: 'sign-in code', verify_destination: 'verification code', recovery: 'account recovery code', step: 'confirmation code' } as const;

export const en: Catalogue = {
  voiceLanguage: 'en-US',
  // The last line is the origin-bound form (WebOTP) browsers offer to fill in for this site only.
  sms: (purpose, code, site) => `${code} is your ${site} ${what[purpose]}. Never share it with anyone.\n\n@${site} #${code}`,
  voice: {
    intro: (purpose, site) => `Hello. This is ${site}. Your ${what[purpose]} is:`,
    repeat: 'Once again, your code is:',
    goodbye: 'Goodbye.',
  },
  subjects: {
    code: (purpose, site) => `Your ${site} ${what[purpose]}`,
    destinationAdded: (site) => `A new sign-in method was added to your ${site} account`,
    recoveryLink: (site) => `Recover your ${site} account`,
  },
};
