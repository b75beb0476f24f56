// A cursor over an HTTP header value with the RFC 9110 §5.6 pieces its parsers share: optional whitespace, runs of chars, quoted strings.

/** Reads a header value left to right; `pos` is public so parsers can look ahead and back up. */
export class HeaderCursor {
  pos = 0;

  constructor(readonly text: string) {}

  /** True when every char is consumed. */
  get done(): boolean {
    return this.pos >= this.text.length;
  }

  /** The current char ('' at the end). */
  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Skips spaces and tabs (OWS / BWS). */
  skipSpace(): void {
    while (this.pos < this.text.length && (this.text[this.pos] === ' ' || this.text[this.pos] === '\t')) this.pos++;
  }

  /** Consumes and returns the run of chars matching `char` (a one-char pattern). */
  readWhile(char: RegExp): string {
    const start = this.pos;
    while (this.pos < this.text.length && char.test(this.text[this.pos]!)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** At a `"`: consumes a quoted-string and returns it unescaped (an unterminated one runs to the end). */
  readQuoted(): string {
    let value = '';
    this.pos++;
    while (this.pos < this.text.length && this.text[this.pos] !== '"') {
      if (this.text[this.pos] === '\\' && this.pos + 1 < this.text.length) this.pos++;
      value += this.text[this.pos];
      this.pos++;
    }
    this.pos++;
    return value;
  }
}
