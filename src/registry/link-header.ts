// Link header parsing (RFC 8288 §3) for referrers/tag-list pagination (distribution-spec 1.1 "rel=next").

/** One link: its target (as written) and its parameters (names lowercased). */
export interface Link {
  target: string;
  params: Record<string, string>;
}

/** Parses a Link header value; entries that are not `<uri>; params` are skipped. */
export function parseLinkHeader(header: string): Link[] {
  const links: Link[] = [];
  let i = 0;
  const n = header.length;
  while (i < n) {
    const open = header.indexOf('<', i);
    if (open < 0) break;
    const close = header.indexOf('>', open + 1);
    if (close < 0) break;
    const link: Link = { target: header.slice(open + 1, close).trim(), params: {} };
    i = close + 1;
    // params: ; name=value | ; name="value" ... until a top-level comma
    for (;;) {
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      if (header[i] !== ';') break;
      i++;
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      const nameStart = i;
      while (i < n && /[^=;,\s]/.test(header[i]!)) i++;
      const name = header.slice(nameStart, i).toLowerCase();
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      let value = '';
      if (header[i] === '=') {
        i++;
        while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
        if (header[i] === '"') {
          i++;
          while (i < n && header[i] !== '"') {
            if (header[i] === '\\' && i + 1 < n) i++;
            value += header[i];
            i++;
          }
          i++;
        } else {
          const start = i;
          while (i < n && /[^;,\s]/.test(header[i]!)) i++;
          value = header.slice(start, i);
        }
      }
      if (name) link.params[name] = value;
    }
    links.push(link);
    const comma = header.indexOf(',', i);
    if (comma < 0) break;
    i = comma + 1;
  }
  return links;
}

/** The target of the first link whose `rel` contains `next`, resolved against `base`; undefined when none. */
export function nextLink(header: string | undefined, base: string): string | undefined {
  if (!header) return undefined;
  const link = parseLinkHeader(header).find((l) => (l.params.rel ?? '').split(/\s+/).includes('next'));
  return link ? new URL(link.target, base).toString() : undefined;
}
