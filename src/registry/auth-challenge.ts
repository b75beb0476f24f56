// WWW-Authenticate parsing (RFC 7235 §4.1 challenges, RFC 6750 Bearer; docker token auth "realm/service/scope").

/** One challenge: the scheme (lowercased) and its auth-params (names lowercased, values unquoted). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parses a WWW-Authenticate value into its challenges; malformed parts are skipped, never thrown. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const n = header.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const readQuoted = () => {
    let value = '';
    i++;
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      value += header[i];
      i++;
    }
    i++;
    return value;
  };
  /** At i: is there `token BWS =` followed by a value (not a token68's trailing `=` run)? */
  const paramAhead = () => {
    const save = i;
    skipSpace();
    const name = readToken();
    skipSpace();
    let result = false;
    if (name && header[i] === '=') {
      i++;
      skipSpace();
      result = i < n && (header[i] === '"' || TOKEN_CHAR.test(header[i]!)) && header[i] !== '=';
    }
    i = save;
    return result;
  };

  const out: AuthChallenge[] = [];
  while (i < n) {
    while (i < n && (header[i] === ',' || header[i] === ' ' || header[i] === '\t')) i++;
    const scheme = readToken();
    if (!scheme) {
      if (i < n) i++;
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipSpace();
    if (!paramAhead()) {
      // token68 (RFC 7235 §2.1): token chars, '/', then '=' padding; ends at ',' or end.
      const start = i;
      while (i < n && (TOKEN_CHAR.test(header[i]!) || header[i] === '/')) i++;
      while (i < n && header[i] === '=') i++;
      const t = header.slice(start, i);
      skipSpace();
      if (t && (i >= n || header[i] === ',')) challenge.params.token68 = t;
      else if (t) i = start;
      continue;
    }
    while (paramAhead()) {
      skipSpace();
      const name = readToken().toLowerCase();
      skipSpace();
      i++; // '='
      skipSpace();
      challenge.params[name] = header[i] === '"' ? readQuoted() : readToken();
      skipSpace();
      if (header[i] !== ',') break;
      i++;
    }
    // Skip junk up to the next comma so parsing always advances.
    skipSpace();
    if (i < n && header[i] !== ',' && !TOKEN_CHAR.test(header[i]!)) while (i < n && header[i] !== ',') i++;
  }
  return out;
}

/** Formats one challenge with quoted params: the inverse of parseWwwAuthenticate (used by its property test). */
export function formatChallenge(challenge: AuthChallenge): string {
  const params = Object.entries(challenge.params).map(([k, v]) => `${k}="${v.replace(/(["\\])/g, '\\$1')}"`);
  return params.length ? `${challenge.scheme} ${params.join(',')}` : challenge.scheme;
}
