import path from 'node:path';
import { Eta } from 'eta';
import type { Locale } from '../i18n/i18n.js';
import type { MailValue, OutgoingMail } from './delivery.js';
import type { Wording, WordingFor } from './wording.js';

export const MAIL_TEMPLATES = ['code', 'destination-added', 'security-notice', 'recovery-link'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface RenderedMail {
  lang: Locale;
  subject: string;
  text: string;
  /** The same text as HTML: every piece escaped, links clickable. */
  html: string;
}

const oneLine = (s: string) =>
  s
    .replace(/[\r\n\t]+/g, ' ')
    .trim()
    .slice(0, 200);

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** Each template's subject line, from the catalogue. */
const SUBJECTS: Record<MailTemplate, (w: Wording, data: Record<string, unknown>, values: Record<string, string | number>) => string> = {
  code: ({ t, sender }, data) => t('email:code.subject', { sender, what: t(`email:code.what.${str(data.purpose)}`) }),
  'destination-added': ({ t, sender }) => t('email:destination_added.subject', { sender }),
  'recovery-link': ({ t, sender }) => t('email:recovery_link.subject', { sender }),
  'security-notice': ({ t }, data, values) => t(`email:notice.${str(data.notice)}.title`, values),
};

// A formatter is costly to make and safe to share.
const DATES = new Map<Locale, Intl.DateTimeFormat>();
function dateIn(lang: Locale, d: Date): string {
  let format = DATES.get(lang);
  if (!format) DATES.set(lang, (format = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'long', timeZone: 'UTC' })));
  return format.format(d);
}

function localised(w: Wording, values: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries((values ?? {}) as Record<string, MailValue>)) {
    if (v instanceof Date) out[k] = dateIn(w.lang, v);
    else if (typeof v === 'object') out[k] = w.t(`email:${v.term}`, { defaultValue: v.term.split('.').pop() });
    else out[k] = v;
  }
  return out;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The text as HTML paragraphs: a code (an indented line alone) set large, links made clickable. */
function htmlOf(lang: Locale, subject: string, text: string): string {
  const paragraphs = text.split(/\n{2,}/).map((p) => {
    const inner = escapeHtml(p.trim())
      .replace(/https?:\/\/[^\s<]+/g, (u) => `<a href="${u}">${u}</a>`)
      .replace(/\n/g, '<br>\n');
    return /^ {4}\S{1,16}$/.test(p) ? `<p style="font-family:monospace;font-size:1.5em;letter-spacing:0.1em">${inner}</p>` : `<p>${inner}</p>`;
  });
  return `<!doctype html>\n<html lang="${lang}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>\n<body>\n${paragraphs.join('\n')}\n</body></html>\n`;
}

/**
 * E-mails from `<dir>/<template>.eta`, one template per message whose every text comes from the
 * `email` catalogue in the recipient's language (see `createWording`): a greeting (by name when
 * the person gave one), the template's body, and a footer naming the organisation. The text is
 * plain; the HTML alternative is the same text, escaped.
 */
export function createMailTemplates(dir: string, wordingFor: WordingFor) {
  const eta = new Eta({ views: dir, autoEscape: false, autoTrim: false, cache: true });

  return {
    async render(mail: OutgoingMail): Promise<RenderedMail> {
      if (!(MAIL_TEMPLATES as readonly string[]).includes(mail.template)) throw new Error(`no e-mail template ${mail.template}`);
      const template = mail.template as MailTemplate;
      const w = await wordingFor({ organizationId: mail.organizationId, locale: mail.locale });
      const values = localised(w, mail.data.values);
      const body = await eta.renderAsync(`./${template}`, {
        ...mail.data,
        values,
        t: w.t,
        sender: w.sender,
        site: w.site,
        date: (d: unknown) => (d instanceof Date || typeof d === 'string' ? dateIn(w.lang, new Date(d)) : ''),
      });
      const name = mail.name?.trim();
      const text = [
        name ? w.t('email:greeting_name', { name }) : w.t('email:greeting'),
        body.trim().replace(/\n{3,}/g, '\n\n'),
        w.t('email:footer', { sender: w.sender, site: w.site }),
      ].join('\n\n');
      const subject = oneLine(SUBJECTS[template](w, mail.data, values));
      return { lang: w.lang, subject, text: `${text}\n`, html: htmlOf(w.lang, subject, text) };
    },
  };
}

export type MailTemplates = ReturnType<typeof createMailTemplates>;

export const mailTemplatesDir = (viewsDir: string) => path.join(viewsDir, 'email');
