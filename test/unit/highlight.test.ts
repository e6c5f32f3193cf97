import { describe, expect, it } from 'vitest';
import { tokenizeMarkup } from '../../web/src/highlight.ts';

/** The preview's XML colouring (web/src/highlight.ts): lossless, and markup split into the right kinds. */
describe('tokenizeMarkup', () => {
  it.each([
    '<?xml version="1.0"?>\n<TEI xmlns="http://www.tei-c.org/ns/1.0"><text lang=\'en\'>a &amp; b</text><!-- note --></TEI>',
    '<script>alert(1)</script>',
    'no markup at all',
    '<unclosed attr="x',
    '<!-- never closed',
    '<a><![CDATA[ <b> ]]></a>',
    'a < b > c',
    '',
  ])('gives back every character of %j', (source) => {
    expect(tokenizeMarkup(source).map(([, text]) => text).join('')).toBe(source);
  });

  it('colours tags, attributes, values, comments, processing instructions and entities', () => {
    expect(tokenizeMarkup('<?xml version="1.0"?><p id="x" hidden>a &amp; b</p><!-- c -->')).toEqual([
      ['pi', '<?xml version="1.0"?>'],
      ['tag', '<p'],
      ['text', ' '],
      ['attr', 'id'],
      ['text', '='],
      ['value', '"x"'],
      ['text', ' '],
      ['attr', 'hidden'],
      ['tag', '>'],
      ['text', 'a '],
      ['entity', '&amp;'],
      ['text', ' b'],
      ['tag', '</p>'],
      ['comment', '<!-- c -->'],
    ]);
  });
});
