// Link header parsing (RFC 8288 §3) for referrers/tag-list pagination (distribution-spec 1.1 "rel=next").
import { HeaderCursor } from './header-cursor.js';

/** One link: its target (as written) and its parameters (names lowercased). */
export interface Link {
  target: string;
  params: Record<string, string>;
}

/** Parses a Link header value; entries that are not `<uri>; params` are skipped. */
export function parseLinkHeader(header: string): Link[] {
  const links: Link[] = [];
  const c = new HeaderCursor(header);
  while (!c.done) {
    const open = header.indexOf('<', c.pos);
    if (open < 0) break;
    const close = header.indexOf('>', open + 1);
    if (close < 0) break;
    const link: Link = { target: header.slice(open + 1, close).trim(), params: {} };
    c.pos = close + 1;
    // params: ; name=value | ; name="value" ... until a top-level comma
    for (;;) {
      c.skipSpace();
      if (c.peek() !== ';') break;
      c.pos++;
      c.skipSpace();
      const name = c.readWhile(/[^=;,\s]/).toLowerCase();
      c.skipSpace();
      let value = '';
      if (c.peek() === '=') {
        c.pos++;
        c.skipSpace();
        value = c.peek() === '"' ? c.readQuoted() : c.readWhile(/[^;,\s]/);
      }
      if (name) link.params[name] = value;
    }
    links.push(link);
    const comma = header.indexOf(',', c.pos);
    if (comma < 0) break;
    c.pos = comma + 1;
  }
  return links;
}

/** The target of the first link whose `rel` contains `next`, resolved against `base`; undefined when none. */
export function nextLink(header: string | undefined, base: string): string | undefined {
  if (!header) return undefined;
  const link = parseLinkHeader(header).find((l) => (l.params.rel ?? '').split(/\s+/).includes('next'));
  return link ? new URL(link.target, base).toString() : undefined;
}
