/** One spelling per answer: what the user remembers matches however it is typed. */
import { normalizeAnswer } from '../../src/authn/factors/questions/questions.schema.js';

test.each([
  ['Rex the Dog', 'rex the dog'],
  ['  REX   the\tdog  ', 'rex the dog'],
  ["O'Brien-Smith.", 'obriensmith'],
  ['Ｒｅｘ', 'rex'], // full-width forms (NFKC)
  ['ﬁsh', 'fish'], // a ligature (NFKC)
  ['Straße', 'strasse'], // full case folding of ß
  ['Cafe\u0301', 'café'], // decomposed and composed forms agree
  ['re\u200Bx', 'rex'], // an invisible format character
  ['¿Qué?', 'qué'],
])('%j → %j', (input, expected) => {
  expect(normalizeAnswer(input)).toBe(expected);
  expect(normalizeAnswer(expected)).toBe(expected);
});
