// containerd filter syntax over snapshot info: selectors, quoting, AND within a filter, OR across filters, errors.
import { describe, expect, it } from 'vitest';
import { parseSnapshotFilters } from '../../../src/snapshotter/snapshot-filter.js';
import type { SnapshotInfo } from '../../../src/snapshotter/snapshot-types.js';

const info = (name: string, parent: string, kind: SnapshotInfo['kind'], labels: Record<string, string>): SnapshotInfo => ({
  name,
  parent,
  kind,
  labels,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

const ALL = [
  info('sha256:aa', '', 'COMMITTED', { 'containerd.io/snapshot.ref': 'sha256:aa', team: 'red' }),
  info('default/3/extract', 'sha256:aa', 'ACTIVE', { 'containerd.io/gc.root': '2024', team: 'a, b' }),
  info('v', 'sha256:aa', 'VIEW', {}),
];
const names = (filters: string[]) => ALL.filter(parseSnapshotFilters(filters)).map((i) => i.name);

describe('parseSnapshotFilters', () => {
  it('matches fields, quoted label keys, presence, inequality and regular expressions', () => {
    expect(names([])).toEqual(['sha256:aa', 'default/3/extract', 'v']);
    expect(names([''])).toEqual(['sha256:aa', 'default/3/extract', 'v']);
    expect(names(['name==sha256:aa'])).toEqual(['sha256:aa']);
    expect(names(['parent==sha256:aa'])).toEqual(['default/3/extract', 'v']);
    expect(names(['parent'])).toEqual(['default/3/extract', 'v']);
    expect(names(['kind==View'])).toEqual(['v']);
    expect(names(['labels."containerd.io/snapshot.ref"==sha256:aa'])).toEqual(['sha256:aa']);
    expect(names(['labels."containerd.io/gc.root"'])).toEqual(['default/3/extract']);
    expect(names(['labels.team=="a, b"'])).toEqual(['default/3/extract']);
    expect(names(['labels.team!=red'])).toEqual(['default/3/extract', 'v']);
    expect(names(['name~=/extract$/'])).toEqual(['default/3/extract']);
  });

  it('ANDs the selectors of one filter and ORs the filters of a list', () => {
    expect(names(['kind==committed,labels.team==red'])).toEqual(['sha256:aa']);
    expect(names(['kind==committed,labels.team==blue'])).toEqual([]);
    expect(names(['kind==view', 'labels.team==red'])).toEqual(['sha256:aa', 'v']);
  });

  it('rejects malformed filters with INVALID_ARGUMENT', () => {
    for (const bad of ['name==', 'labels."unterminated==x', 'name==a,', '==x', 'name~=/(/']) {
      expect(() => parseSnapshotFilters([bad]), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
