import path from 'node:path';
import { Eta } from 'eta';
import type { MessagePurpose } from './delivery.js';
import { catalogueFor, messageLocale } from './messages/index.js';

export const MAIL_TEMPLATES = ['code', 'destination-added', 'security-notice', 'recovery-link'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface RenderedMail {
  subject: string;
  text: string;
}

const oneLine = (s: string) =>
  s
    .replace(/[\r\n\t]+/g, ' ')
    .trim()
    .slice(0, 200);

/**
 * Plain-text e-mails from `<dir>/<language>/<template>.eta` (English when the language has none),
 * subjects from the message catalogue. Text, not HTML: nothing in it can be markup.
 */
export function createMailTemplates(dir: string, site: string) {
  const eta = new Eta({ views: dir, autoEscape: false, autoTrim: false, cache: true });

  function subject(template: MailTemplate, locale: string, data: Record<string, unknown>): string {
    const words = catalogueFor(locale).subjects;
    switch (template) {
      case 'code':
        return words.code(data.purpose as MessagePurpose, site);
      case 'destination-added':
        return words.destinationAdded(site);
      case 'recovery-link':
        return words.recoveryLink(site);
      case 'security-notice':
        return oneLine(typeof data.title === 'string' ? data.title : site);
    }
  }

  return {
    async render(template: string, locale: string | undefined, data: Record<string, unknown>): Promise<RenderedMail> {
      if (!(MAIL_TEMPLATES as readonly string[]).includes(template)) throw new Error(`no e-mail template ${template}`);
      const language = messageLocale(locale);
      const text = await eta.renderAsync(`./${language}/${template}`, { ...data, site });
      return { subject: subject(template as MailTemplate, language, data), text };
    },
  };
}

export type MailTemplates = ReturnType<typeof createMailTemplates>;

export const mailTemplatesDir = (viewsDir: string) => path.join(viewsDir, 'email');
