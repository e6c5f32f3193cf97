/**
 * A tiny XML/markup tokenizer for the preview: it cuts text into [kind, text] pieces that the pane
 * puts into <span>s as text nodes (never innerHTML), so the colours cost no safety. Not a parser:
 * malformed markup still comes out whole, only less coloured.
 */

export type TokenKind = 'text' | 'tag' | 'attr' | 'value' | 'comment' | 'pi' | 'entity';
export type Token = [TokenKind, string];

// One alternative per construct; `tag` takes the name, attributes are cut again below.
const MARKUP = /(<!--[\s\S]*?(?:-->|$))|(<!\[CDATA\[[\s\S]*?(?:\]\]>|$))|(<[?!][\s\S]*?(?:>|$))|(<\/?[A-Za-z_][^\s/>]*)([^<>]*?)(\/?>)|(&#?\w+;)/g;
const ATTRIBUTE = /([^\s=]+)(\s*=\s*)?("[^"]*"|'[^']*'|[^\s"']+)?/g;

export function tokenizeMarkup(source: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    if (!text) return;
    const last = tokens[tokens.length - 1];
    if (last && last[0] === kind) last[1] += text;
    else tokens.push([kind, text]);
  };
  let at = 0;
  for (const match of source.matchAll(MARKUP)) {
    push('text', source.slice(at, match.index));
    at = match.index + match[0].length;
    const [whole, comment, cdata, pi, open, attributes, close, entity] = match;
    if (comment) push('comment', comment);
    else if (cdata) push('text', cdata);
    else if (pi) push('pi', pi);
    else if (entity) push('entity', entity);
    else if (open) {
      push('tag', open);
      let last = 0;
      for (const attr of (attributes ?? '').matchAll(ATTRIBUTE)) {
        push('text', attributes!.slice(last, attr.index));
        push('attr', attr[1]!);
        push('text', attr[2] ?? '');
        push('value', attr[3] ?? '');
        last = attr.index + attr[0].length;
      }
      push('text', (attributes ?? '').slice(last));
      push('tag', close!);
    } else push('text', whole);
  }
  push('text', source.slice(at));
  return tokens;
}
