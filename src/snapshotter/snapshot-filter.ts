// Parser and matcher for containerd's filter syntax (containerd v1.6 filters package) over snapshot info: `a==b,c!=d` ANDs, a list ORs.
import { ImageError } from '../errors.js';
import type { SnapshotInfo } from './snapshot-types.js';

type Operator = '==' | '!=' | '~=' | 'present';

interface Selector {
  fieldPath: string[];
  operator: Operator;
  value: string;
}

/** A parsed filter: a disjunction of conjunctions of selectors. */
export type SnapshotFilter = (info: SnapshotInfo) => boolean;

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  done(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }
  peek(s: string): boolean {
    this.skipSpace();
    return this.text.startsWith(s, this.pos);
  }
  fail(what: string): never {
    throw new ImageError('INVALID_ARGUMENT', `invalid filter: ${what}`, { details: { filter: this.text, offset: this.pos } });
  }
  quoted(): string {
    const quote = this.text[this.pos]!;
    let out = '';
    this.pos++;
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === '\\' && this.pos + 1 < this.text.length) this.pos++;
      out += this.text[this.pos++];
    }
    if (this.pos >= this.text.length) this.fail('unterminated quoted string');
    this.pos++;
    return out;
  }
  /** A field name: identifier characters or a quoted string. */
  field(): string {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '"' || c === '`') return this.quoted();
    const m = /^[A-Za-z0-9_/:-]+/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected a field name');
    this.pos += m[0].length;
    return m[0];
  }
  /** A value: quoted, /regex/, or bare up to the next comma. */
  value(): string {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '"' || c === '`' || c === '/') return this.quoted();
    const end = this.text.indexOf(',', this.pos);
    const raw = this.text.slice(this.pos, end < 0 ? undefined : end).trim();
    this.pos = end < 0 ? this.text.length : end;
    if (raw === '') this.fail('expected a value');
    return raw;
  }
}

function parseConjunction(text: string): Selector[] {
  const s = new Scanner(text);
  const selectors: Selector[] = [];
  for (;;) {
    const fieldPath = [s.field()];
    while (s.peek('.')) {
      s.pos++;
      fieldPath.push(s.field());
    }
    let operator: Operator = 'present';
    let value = '';
    for (const op of ['==', '!=', '~='] as const) {
      if (s.peek(op)) {
        s.pos += 2;
        operator = op;
        value = s.value();
        break;
      }
    }
    selectors.push({ fieldPath, operator, value });
    if (s.done()) return selectors;
    if (!s.peek(',')) s.fail('expected "," between selectors');
    s.pos++;
  }
}

function fieldValue(info: SnapshotInfo, path: string[]): string | undefined {
  const [head, ...rest] = path;
  switch (head) {
    case 'name':
      return rest.length ? undefined : info.name;
    case 'parent':
      return rest.length ? undefined : info.parent;
    case 'kind':
      // containerd's Kind.String(): "View", "Active", "Committed".
      return rest.length ? undefined : info.kind[0] + info.kind.slice(1).toLowerCase();
    case 'labels':
      return rest.length ? info.labels[rest.join('.')] : undefined;
    default:
      return undefined;
  }
}

function matches(info: SnapshotInfo, sel: Selector): boolean {
  const v = fieldValue(info, sel.fieldPath);
  switch (sel.operator) {
    case 'present':
      return v !== undefined && (sel.fieldPath[0] !== 'parent' || v !== '');
    case '==':
      return v === sel.value || (sel.fieldPath[0] === 'kind' && v?.toLowerCase() === sel.value.toLowerCase());
    case '!=':
      return v !== sel.value;
    case '~=':
      return v !== undefined && new RegExp(sel.value).test(v);
  }
}

/** Parses containerd filters (each a comma-separated AND of selectors; the list ORs); none or all-empty matches everything. */
export function parseSnapshotFilters(filters: string[]): SnapshotFilter {
  const alternatives = filters.filter((f) => f.trim() !== '').map(parseConjunction);
  if (alternatives.length === 0) return () => true;
  for (const alt of alternatives) for (const sel of alt) if (sel.operator === '~=') {
    try {
      new RegExp(sel.value);
    } catch (cause) {
      throw new ImageError('INVALID_ARGUMENT', `invalid regular expression in filter: ${sel.value}`, { cause });
    }
  }
  return (info) => alternatives.some((alt) => alt.every((sel) => matches(info, sel)));
}
