// WWW-Authenticate parsing (RFC 7235 §4.1 challenges, RFC 6750 Bearer; docker token auth "realm/service/scope").
import { HeaderCursor } from './header-cursor.js';

/** One challenge: the scheme (lowercased) and its auth-params (names lowercased, values unquoted). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/;

/** Parses a WWW-Authenticate value into its challenges; malformed parts are skipped, never thrown. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const c = new HeaderCursor(header);
  /** At the cursor: is there `token BWS =` followed by a value (not a token68's trailing `=` run)? */
  const paramAhead = (): boolean => {
    const save = c.pos;
    c.skipSpace();
    const name = c.readWhile(TOKEN_CHAR);
    c.skipSpace();
    let result = false;
    if (name && c.peek() === '=') {
      c.pos++;
      c.skipSpace();
      result = !c.done && (c.peek() === '"' || TOKEN_CHAR.test(c.peek())) && c.peek() !== '=';
    }
    c.pos = save;
    return result;
  };

  const out: AuthChallenge[] = [];
  while (!c.done) {
    c.readWhile(/[, \t]/);
    const scheme = c.readWhile(TOKEN_CHAR);
    if (!scheme) {
      if (!c.done) c.pos++;
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    c.skipSpace();
    if (!paramAhead()) {
      // token68 (RFC 7235 §2.1): token chars, '/', then '=' padding; ends at ',' or end.
      const start = c.pos;
      const t = c.readWhile(TOKEN68_CHAR) + c.readWhile(/=/);
      c.skipSpace();
      if (t && (c.done || c.peek() === ',')) challenge.params.token68 = t;
      else if (t) c.pos = start;
      continue;
    }
    while (paramAhead()) {
      c.skipSpace();
      const name = c.readWhile(TOKEN_CHAR).toLowerCase();
      c.skipSpace();
      c.pos++; // '='
      c.skipSpace();
      challenge.params[name] = c.peek() === '"' ? c.readQuoted() : c.readWhile(TOKEN_CHAR);
      c.skipSpace();
      if (c.peek() !== ',') break;
      c.pos++;
    }
    // Skip junk up to the next comma so parsing always advances.
    c.skipSpace();
    if (!c.done && c.peek() !== ',' && !TOKEN_CHAR.test(c.peek())) c.readWhile(/[^,]/);
  }
  return out;
}

/** Formats one challenge with quoted params: the inverse of parseWwwAuthenticate (used by its property test). */
export function formatChallenge(challenge: AuthChallenge): string {
  const params = Object.entries(challenge.params).map(([k, v]) => `${k}="${v.replace(/(["\\])/g, '\\$1')}"`);
  return params.length ? `${challenge.scheme} ${params.join(',')}` : challenge.scheme;
}
