/* global Blob, navigator, setTimeout, URL */
/**
 * Copy and download buttons of the enrolment pages, rendered in a hidden [data-script-only] box
 * that is shown only here, where script runs (the text they act on is on the page either way):
 *
 *   data-copy="SELECTOR"       copies the element's value, or its list items one per line, or its text
 *   data-download="SELECTOR"   saves the same as a text file (data-filename), under data-heading and data-note
 *   data-copied="TEXT"         what [data-copy-status] then says
 */
(() => {
  'use strict';

  const status = document.querySelector('[data-copy-status]');

  /** An input's value; a list's items, one a line; else the element's text. */
  function textOf(selector) {
    const el = document.querySelector(selector);
    if (!el) return '';
    if ('value' in el) return el.value;
    const items = el.querySelectorAll('li');
    return items.length ? [...items].map((li) => li.textContent.trim()).join('\n') : el.textContent.trim();
  }

  for (const button of document.querySelectorAll('button[data-copy]')) {
    // No clipboard here (a page not served securely): the button could do nothing.
    if (!navigator.clipboard) {
      button.remove();
      continue;
    }
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(textOf(button.dataset.copy));
        if (status) status.textContent = button.dataset.copied || '';
      } catch {
        // Refused (no permission, no focus): the text stays on the page to copy by hand.
      }
    });
  }

  for (const button of document.querySelectorAll('button[data-download]')) {
    button.addEventListener('click', () => {
      const lines = [button.dataset.heading, button.dataset.note, '', textOf(button.dataset.download), ''].filter((l) => l !== undefined);
      const url = URL.createObjectURL(new Blob([lines.join('\n')], { type: 'text/plain;charset=utf-8' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = button.dataset.filename || 'download.txt';
      document.body.append(link);
      link.click();
      link.remove();
      // The download has its own copy once started.
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
  }

  document.querySelectorAll('[data-script-only]').forEach((box) => (box.hidden = false));
})();
