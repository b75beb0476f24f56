// HeaderCursor: whitespace, runs and quoted strings of RFC 9110 header values, including the unterminated and escaped edge cases.
import { describe, expect, it } from 'vitest';
import { HeaderCursor } from '../../../src/registry/header-cursor.js';

describe('HeaderCursor', () => {
  it('skips OWS, reads runs and quoted strings with escapes', () => {
    const c = new HeaderCursor(' \t abc="x\\"y\\\\z" ,rest');
    c.skipSpace();
    expect(c.readWhile(/[a-z]/)).toBe('abc');
    expect(c.peek()).toBe('=');
    c.pos++;
    expect(c.readQuoted()).toBe('x"y\\z');
    c.skipSpace();
    expect(c.peek()).toBe(',');
    c.pos++;
    expect(c.readWhile(/[a-z]/)).toBe('rest');
    expect(c.done).toBe(true);
    expect(c.peek()).toBe('');
  });

  it('an unterminated quoted string runs to the end; an empty run reads nothing', () => {
    const c = new HeaderCursor('"open\\');
    expect(c.readWhile(/[a-z]/)).toBe('');
    expect(c.readQuoted()).toBe('open\\');
    expect(c.done).toBe(true);
  });
});
