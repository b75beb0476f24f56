// WWW-Authenticate parsing: fixed real-world headers and a fast-check round trip (fixed seed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatChallenge, parseWwwAuthenticate, type AuthChallenge } from '../../../src/registry/auth-challenge.js';
import { PROPERTY_SEED } from '../../helpers/random.js';

describe('parseWwwAuthenticate', () => {
  it('parses the headers registries send', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/debian:pull' } },
    ]);
    expect(parseWwwAuthenticate('Basic realm="turbo-oci-test"')).toEqual([{ scheme: 'basic', params: { realm: 'turbo-oci-test' } }]);
    expect(parseWwwAuthenticate('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull",error="insufficient_scope"')[0]!.params.error).toBe(
      'insufficient_scope',
    );
  });

  it('handles several challenges, token68, escapes, odd spacing and junk without throwing', () => {
    expect(parseWwwAuthenticate('Basic realm="x", Bearer realm="https://t/token", service=svc')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } },
    ]);
    expect(parseWwwAuthenticate('Negotiate abc/def==, Basic realm="r"')).toEqual([
      { scheme: 'negotiate', params: { token68: 'abc/def==' } },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
    expect(parseWwwAuthenticate('Bearer  realm = "a \\"quoted\\" realm" ,  scope="s1 s2"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a "quoted" realm', scope: 's1 s2' } },
    ]);
    expect(parseWwwAuthenticate('BEARER REALM="r"')).toEqual([{ scheme: 'bearer', params: { realm: 'r' } }]);
    for (const junk of ['', ',,,', '=', '"', 'Bearer realm="unterminated', 'Bearer ,=,"', '\u0000\u00ff']) {
      expect(() => parseWwwAuthenticate(junk)).not.toThrow();
    }
  });

  it('round-trips formatted challenges (property, fixed seed)', () => {
    const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/);
    const value = fc.string({ maxLength: 40 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    const challenge = fc.record({
      scheme: token.map((s) => s.toLowerCase()),
      params: fc.dictionary(token.map((s) => s.toLowerCase()).filter((k) => k !== 'token68'), value, { minKeys: 1, maxKeys: 5 }),
    });
    fc.assert(
      fc.property(fc.array(challenge, { minLength: 1, maxLength: 3 }), (challenges: AuthChallenge[]) => {
        const header = challenges.map(formatChallenge).join(', ');
        expect(parseWwwAuthenticate(header)).toEqual(challenges);
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('never throws on arbitrary input (property, fixed seed)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const out = parseWwwAuthenticate(s);
        expect(Array.isArray(out)).toBe(true);
      }),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
  });
});
