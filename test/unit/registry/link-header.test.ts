// Link header parsing for referrers pagination (RFC 8288).
import { describe, expect, it } from 'vitest';

import { nextLink, parseLinkHeader } from '../../../src/registry/link-header.js';

describe('Link header', () => {
  it('parses targets and parameters', () => {
    expect(parseLinkHeader('</v2/a/referrers/sha256:x?n=2&last=b>; rel="next"')).toEqual([{ target: '/v2/a/referrers/sha256:x?n=2&last=b', params: { rel: 'next' } }]);
    expect(parseLinkHeader('<https://r/x>; rel=prev; title="a, b", <https://r/y>;rel="next"')).toEqual([
      { target: 'https://r/x', params: { rel: 'prev', title: 'a, b' } },
      { target: 'https://r/y', params: { rel: 'next' } },
    ]);
    expect(parseLinkHeader('garbage')).toEqual([]);
    expect(parseLinkHeader('<unterminated')).toEqual([]);
  });

  it('resolves the next link against the request URL', () => {
    expect(nextLink('</v2/a/tags/list?last=x>; rel="next"', 'http://127.0.0.1:5000/v2/a/tags/list')).toBe('http://127.0.0.1:5000/v2/a/tags/list?last=x');
    expect(nextLink('<https://other/page2>; rel="prev next"', 'http://h/')).toBe('https://other/page2');
    expect(nextLink('<https://other/p>; rel="prev"', 'http://h/')).toBeUndefined();
    expect(nextLink(undefined, 'http://h/')).toBeUndefined();
  });
});
