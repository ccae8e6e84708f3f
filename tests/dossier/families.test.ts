import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FamilyIndex,
  type FamilyApplication,
  type FamilyChange,
  type FamilyConflict,
  type FamilyIndexOptions,
  type FamilyKind,
  type FamilySnapshot,
  type StoredApplication,
} from '../../src/dossier/families/family-index.js';

/** A counter allocator: ids `1`, `2`, … so that "older" is "numerically smaller"; `last` is the last id given. */
function counter(start = 0): FamilyIndexOptions & { last: () => number } {
  let n = start;
  return { newId: () => String(++n), last: () => n };
}

function app(key: string, priorities: string[] = [], extra: Partial<FamilyApplication> = {}): FamilyApplication {
  return { key, priorities, providerOffice: key.split(':')[0] ?? 'XX', ...extra };
}

/** Simple and extended family of each key, as member lists. */
function families(index: FamilyIndex, key: string): { simple: string[]; extended: string[] } {
  return { simple: index.membersOfSimple(index.simpleFamilyOf(key)!)!, extended: index.membersOfExtended(index.extendedFamilyOf(key)!)! };
}

// --- a naive reference, straight from the definitions in family-index.ts -----------------

function claimsOf(a: FamilyApplication): string[] {
  const pct = a.pctApplication === a.key ? undefined : a.pctApplication;
  return [...new Set(a.priorities.filter((p) => p !== a.key && p !== pct))].sort();
}

function oracle(apps: Map<string, FamilyApplication>): FamilySnapshot {
  const first = (key: string): string[] => {
    const a = apps.get(key);
    const claims = a ? claimsOf(a) : [];
    return claims.length > 0 ? claims : [key];
  };
  const bySignature = new Map<string, { signature: string[]; members: string[] }>();
  const neighbours = new Map<string, Set<string>>();
  const connect = (x: string, y: string) => {
    for (const [from, to] of [[x, y], [y, x]] as const) {
      const set = neighbours.get(from) ?? new Set<string>();
      set.add(to);
      neighbours.set(from, set);
    }
  };
  for (const a of apps.values()) {
    const pct = a.pctApplication === a.key ? undefined : a.pctApplication;
    const signature = pct === undefined ? first(a.key) : [...new Set([...claimsOf(a), ...first(pct)])].sort();
    const sig = signature.join('|');
    const family = bySignature.get(sig) ?? { signature, members: [] };
    family.members.push(a.key);
    bySignature.set(sig, family);
    neighbours.set(a.key, neighbours.get(a.key) ?? new Set());
    for (const claim of claimsOf(a)) connect(a.key, claim);
    if (pct !== undefined) connect(a.key, pct);
  }
  const seen = new Set<string>();
  const extended: string[][] = [];
  for (const key of apps.keys()) {
    if (seen.has(key)) continue;
    seen.add(key);
    const queue = [key];
    const members: string[] = [];
    for (let i = 0; i < queue.length; i++) {
      const node = queue[i]!;
      if (apps.has(node)) members.push(node);
      for (const next of neighbours.get(node) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    extended.push(members.sort());
  }
  const byFirst = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    simple: [...bySignature.values()].map((f) => ({ signature: f.signature, members: f.members.sort() })).sort((a, b) => byFirst(a.members[0]!, b.members[0]!)),
    extended: extended.sort((a, b) => byFirst(a[0]!, b[0]!)),
  };
}

/** The conflict rules, naively (all provider offices compared against both kinds). */
function naiveConflicts(index: FamilyIndex, apps: Map<string, FamilyApplication>, kind: FamilyKind, id: string): FamilyConflict[] {
  const familyOf = (key: string) => (kind === 'simple' ? index.simpleFamilyOf(key) : index.extendedFamilyOf(key))!;
  const members = (kind === 'simple' ? index.membersOfSimple(id) : index.membersOfExtended(id))!;
  const labelled = members.map((k) => apps.get(k)!).filter((a) => a.providerFamilyId);
  const conflicts: FamilyConflict[] = [];
  for (const office of [...new Set(labelled.map((a) => a.providerOffice))].sort()) {
    const ofOffice = labelled.filter((a) => a.providerOffice === office);
    const ids = [...new Set(ofOffice.map((a) => a.providerFamilyId!))].sort();
    if (ids.length >= 2) {
      conflicts.push({
        rule: 'several-provider-ids',
        providerOffice: office,
        providerFamilyIds: ids.map((pid) => ({ providerFamilyId: pid, members: ofOffice.filter((a) => a.providerFamilyId === pid).map((a) => a.key).sort() })),
      });
    }
    for (const pid of ids) {
      const group = [...apps.values()].filter((a) => a.providerOffice === office && a.providerFamilyId === pid);
      const fams = [...new Set(group.map((a) => familyOf(a.key)))].sort();
      if (fams.length < 2) continue;
      conflicts.push({
        rule: 'provider-id-spread',
        providerOffice: office,
        providerFamilyId: pid,
        families: fams.map((familyId) => ({ familyId, members: group.filter((a) => familyOf(a.key) === familyId).map((a) => a.key).sort() })),
      });
    }
  }
  return conflicts;
}

describe('family index: hand-built cases', () => {
  it('chain of priorities: A ← B claims A ← C claims B', () => {
    const index = new FamilyIndex(counter());
    index.upsert(app('CN:A'));
    index.upsert(app('US:B', ['CN:A']));
    index.upsert(app('EP:C', ['US:B']));
    expect(index.validate()).toEqual([]);
    // A is its own first filing, so B (first filing A) is in A's simple family; C's first filing is B.
    expect(families(index, 'CN:A')).toEqual({ simple: ['CN:A', 'US:B'], extended: ['CN:A', 'EP:C', 'US:B'] });
    expect(families(index, 'EP:C')).toEqual({ simple: ['EP:C'], extended: ['CN:A', 'EP:C', 'US:B'] });
    expect(index.signatureOf(index.simpleFamilyOf('US:B')!)).toEqual(['CN:A']);
    expect(index.signatureOf(index.simpleFamilyOf('EP:C')!)).toEqual(['US:B']);
    expect(index.snapshot()).toEqual(FamilyIndex.recompute([app('EP:C', ['US:B']), app('CN:A'), app('US:B', ['CN:A'])], counter()).snapshot());
  });

  it('chain arriving in reverse order ends in the same families, and the first family id survives', () => {
    const index = new FamilyIndex(counter());
    index.upsert(app('EP:C', ['US:B']));
    const id = index.extendedFamilyOf('EP:C')!;
    const change = index.upsert(app('US:B', ['CN:A']));
    expect(change.created).toEqual([{ kind: 'simple', id: index.simpleFamilyOf('US:B')! }]);
    index.upsert(app('CN:A'));
    expect(index.extendedFamilyOf('CN:A')).toBe(id);
    expect(index.extendedFamilyOf('US:B')).toBe(id);
    expect(families(index, 'US:B').simple).toEqual(['CN:A', 'US:B']);
  });

  it('several priorities: D claims P1 and P2, E claims P1 only', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([app('EP:D', ['GB:P1', 'DE:P2']), app('US:E', ['GB:P1']), app('JP:F', ['DE:P2', 'GB:P1'])]);
    expect(index.simpleFamilyOf('EP:D')).not.toBe(index.simpleFamilyOf('US:E'));
    // Signatures are sets: the order of claims does not matter.
    expect(index.simpleFamilyOf('JP:F')).toBe(index.simpleFamilyOf('EP:D'));
    expect(index.extendedFamilyOf('EP:D')).toBe(index.extendedFamilyOf('US:E'));
    expect(index.signatureOf(index.simpleFamilyOf('EP:D')!)).toEqual(['DE:P2', 'GB:P1']);
    expect(index.membersOfExtended(index.extendedFamilyOf('US:E')!)).toEqual(['EP:D', 'JP:F', 'US:E']);
    // Priorities that are not applications are nodes, not members; a duplicate claim is one claim.
    index.upsert(app('KR:G', ['GB:P1', 'GB:P1']));
    expect(index.simpleFamilyOf('KR:G')).toBe(index.simpleFamilyOf('US:E'));
  });

  it('continuations and divisionals are priority claims', () => {
    const index = new FamilyIndex(counter());
    const jp = 'JP:2019000001';
    const parent = 'US:16000001';
    index.upsertMany([
      app(jp),
      app(parent, [jp]),
      // A continuation claims the parent's priority and the parent (domestic benefit).
      app('US:17000002', [jp, parent]),
      // A divisional claiming the parent's priorities only is in the parent's simple family.
      app('US:17000003', [jp]),
      // A continuation of the continuation, claiming the whole chain.
      app('US:18000004', [jp, parent, 'US:17000002']),
    ]);
    expect(families(index, parent).simple).toEqual([jp, parent, 'US:17000003']);
    expect(families(index, 'US:17000002').simple).toEqual(['US:17000002']);
    expect(families(index, 'US:18000004').simple).toEqual(['US:18000004']);
    expect(families(index, parent).extended).toEqual([jp, parent, 'US:17000002', 'US:17000003', 'US:18000004']);
    expect(index.validate()).toEqual([]);
  });

  it('PCT national phases join the simple family of their international application', () => {
    const index = new FamilyIndex(counter());
    const p = 'CN:202310001234.7';
    const w = 'WO:CN2023123456';
    index.upsert(app(p));
    index.upsert(app(w, [p]));
    index.upsert(app('EP:24000001', [p], { pctApplication: w }));
    // No priorities given on the entry: it inherits W's.
    index.upsert(app('US:18000001', [], { pctApplication: w }));
    // The provider listed the PCT application among the priorities: it is the PCT link, not a claim.
    index.upsert(app('KR:1020247000001', [p, w], { pctApplication: w }));
    // An extra priority of its own: own simple family, same extended family.
    index.upsert(app('JP:2024500001', [p, 'JP:2023000009'], { pctApplication: w }));
    expect(families(index, w).simple).toEqual(['CN:202310001234.7', 'EP:24000001', 'KR:1020247000001', 'US:18000001', w]);
    expect(families(index, 'JP:2024500001').simple).toEqual(['JP:2024500001']);
    expect(index.signatureOf(index.simpleFamilyOf('JP:2024500001')!)).toEqual(['CN:202310001234.7', 'JP:2023000009']);
    expect(families(index, 'JP:2024500001').extended).toEqual([
      'CN:202310001234.7',
      'EP:24000001',
      'JP:2024500001',
      'KR:1020247000001',
      'US:18000001',
      w,
    ]);
    expect(index.validate()).toEqual([]);
  });

  it('national phase entries arriving before their international application follow it when it arrives', () => {
    const index = new FamilyIndex(counter());
    const w = 'WO:US2022000001';
    index.upsertMany([app('EP:23000001', [], { pctApplication: w }), app('CN:202380000001.X', [], { pctApplication: w })]);
    // W unknown: taken as its own first filing.
    expect(index.signatureOf(index.simpleFamilyOf('EP:23000001')!)).toEqual([w]);
    expect(index.has(w)).toBe(false);
    expect(families(index, 'EP:23000001')).toEqual({ simple: ['CN:202380000001.X', 'EP:23000001'], extended: ['CN:202380000001.X', 'EP:23000001'] });
    const before = index.simpleFamilyOf('EP:23000001')!;
    const change = index.upsert(app(w, ['US:63000001']));
    // Both entries move to W's signature; their old simple family is dissolved into the new one.
    const now = index.simpleFamilyOf(w)!;
    expect(index.simpleFamilyOf('EP:23000001')).toBe(now);
    expect(index.signatureOf(now)).toEqual(['US:63000001']);
    expect(change.dissolved).toEqual([{ id: before, movedTo: [now] }]);
    expect(change.moved.map((m) => m.key)).toEqual(['CN:202380000001.X', 'EP:23000001', w]);
    // Without priorities W would have been its own first filing: the entries' signature was already right.
    const other = new FamilyIndex(counter());
    other.upsert(app('EP:1', [], { pctApplication: 'WO:X' }));
    const keep = other.simpleFamilyOf('EP:1');
    const quiet = other.upsert(app('WO:X'));
    expect(other.simpleFamilyOf('WO:X')).toBe(keep);
    expect(quiet.moved).toEqual([{ key: 'WO:X', simple: keep, extended: other.extendedFamilyOf('EP:1'), previousSimple: null, previousExtended: null }]);
  });

  it('an application that later adds a priority changes its simple family', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([app('US:P'), app('US:A'), app('EP:B', ['US:P'])]);
    const old = index.simpleFamilyOf('US:A')!;
    const change = index.upsert(app('US:A', ['US:P']));
    expect(index.simpleFamilyOf('US:A')).toBe(index.simpleFamilyOf('EP:B'));
    expect(change.dissolved).toEqual([{ id: old, movedTo: [index.simpleFamilyOf('US:A')] }]);
    expect(index.kindOf(old)).toBeUndefined();
  });

  it('adding a priority merges extended families (oldest id survives); removing it splits them (largest part keeps the id)', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([app('CN:1'), app('US:1', ['CN:1'])]);
    const older = index.extendedFamilyOf('CN:1')!;
    index.upsertMany([app('JP:2'), app('US:2', ['JP:2']), app('EP:2', ['JP:2']), app('KR:2', ['JP:2'])]);
    const younger = index.extendedFamilyOf('JP:2')!;
    expect(Number(older)).toBeLessThan(Number(younger));
    const simpleOfX = index.simpleFamilyOf('KR:2');

    const merge = index.upsert(app('KR:2', ['JP:2', 'CN:1']));
    expect(merge.merged).toEqual([{ into: older, absorbed: [younger] }]);
    expect(merge.split).toEqual([]);
    expect(index.extendedFamilyOf('JP:2')).toBe(older);
    expect(index.membersOfExtended(older)).toEqual(['CN:1', 'EP:2', 'JP:2', 'KR:2', 'US:1', 'US:2']);
    expect(index.membersOfExtended(younger)).toBeUndefined();
    // Every member of the absorbed family moved to the surviving id; KR:2 also changed simple family.
    expect(merge.moved.map((m) => m.key)).toEqual(['EP:2', 'JP:2', 'KR:2', 'US:2']);
    expect(merge.moved.find((m) => m.key === 'EP:2')).toEqual({ key: 'EP:2', simple: index.simpleFamilyOf('EP:2'), extended: older, previousSimple: index.simpleFamilyOf('EP:2'), previousExtended: younger });
    expect(merge.dissolved).toEqual([]);
    expect(index.simpleFamilyOf('KR:2')).not.toBe(simpleOfX);

    const split = index.upsert(app('KR:2', ['JP:2']));
    // Four members on the JP side, two on the CN side: the JP side keeps the surviving id.
    expect(index.extendedFamilyOf('JP:2')).toBe(older);
    const fresh = index.extendedFamilyOf('CN:1')!;
    expect(Number(fresh)).toBeGreaterThan(Number(younger));
    expect(split.split).toEqual([{ id: older, into: [older, fresh].sort() }]);
    expect(split.created).toContainEqual({ kind: 'extended', id: fresh });
    expect(split.moved.map((m) => m.key)).toEqual(['CN:1', 'KR:2', 'US:1']);
    expect(index.membersOfExtended(fresh)).toEqual(['CN:1', 'US:1']);
    // KR:2's old signature {JP:2} is still in use, so it gets that family's id again.
    expect(index.simpleFamilyOf('KR:2')).toBe(simpleOfX);
    expect(index.validate()).toEqual([]);
  });

  it('a split with equal parts leaves the id with the part holding the oldest member (first upserted)', () => {
    const index = new FamilyIndex(counter());
    // CA:1 arrives first, claiming AU:1, which arrives later.
    index.upsert(app('CA:1', ['AU:1']));
    index.upsert(app('AU:1'));
    index.upsert(app('AU:2', ['AU:1']));
    const id = index.extendedFamilyOf('AU:1')!;
    // Parts {AU:1, AU:2} and {CA:1}: the larger part keeps the id.
    index.upsert(app('CA:1'));
    expect(index.extendedFamilyOf('AU:1')).toBe(id);
    expect(index.extendedFamilyOf('CA:1')).not.toBe(id);
    // A tie {AU:1} / {AU:2}: AU:1 was upserted before AU:2.
    index.upsert(app('AU:2'));
    expect(index.extendedFamilyOf('AU:1')).toBe(id);
    // CA:1 rejoins (the oldest id survives: AU:1's), then leaves again: tie {AU:1} / {CA:1}, CA:1 is older.
    index.upsert(app('CA:1', ['AU:1']));
    expect(index.extendedFamilyOf('CA:1')).toBe(id);
    const change = index.upsert(app('CA:1'));
    expect(index.extendedFamilyOf('CA:1')).toBe(id);
    expect(change.split).toEqual([{ id, into: [id, index.extendedFamilyOf('AU:1')!].sort() }]);
  });

  it('an unchanged re-upsert changes nothing', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([app('CN:1'), app('US:1', ['CN:1'], { providerFamilyId: 'x' })]);
    const change = index.upsert(app('US:1', ['CN:1'], { providerFamilyId: 'x' }));
    expect(change).toEqual({ created: [], merged: [], split: [], dissolved: [], changed: [], moved: [], recheckConflicts: [] });
  });

  it('conflicting provider family ids are shown, not merged', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([
      // One hub simple family, two EP family ids.
      app('EP:1', ['GB:P'], { providerOffice: 'EP', providerFamilyId: 'EPF-1' }),
      app('EP:2', ['GB:P'], { providerOffice: 'EP', providerFamilyId: 'EPF-2' }),
      // The reverse: one US family id over two unrelated hub families.
      app('US:1', ['JP:Q'], { providerOffice: 'US', providerFamilyId: 'USF-9' }),
      app('US:2', ['KR:R'], { providerOffice: 'US', providerFamilyId: 'USF-9' }),
    ]);
    const simple = index.simpleFamilyOf('EP:1')!;
    expect(index.simpleFamilyOf('EP:2')).toBe(simple);
    expect(index.conflictsOf(simple)).toEqual([
      {
        rule: 'several-provider-ids',
        providerOffice: 'EP',
        providerFamilyIds: [
          { providerFamilyId: 'EPF-1', members: ['EP:1'] },
          { providerFamilyId: 'EPF-2', members: ['EP:2'] },
        ],
      },
    ]);
    expect(index.conflictsOf(index.extendedFamilyOf('EP:1')!)).toHaveLength(1);

    const us1 = index.extendedFamilyOf('US:1')!;
    const us2 = index.extendedFamilyOf('US:2')!;
    expect(us1).not.toBe(us2);
    const spread: FamilyConflict = {
      rule: 'provider-id-spread',
      providerOffice: 'US',
      providerFamilyId: 'USF-9',
      families: [
        { familyId: us1, members: ['US:1'] },
        { familyId: us2, members: ['US:2'] },
      ].sort((a, b) => (a.familyId < b.familyId ? -1 : 1)),
    };
    expect(index.conflictsOf(us1)).toEqual([spread]);
    expect(index.conflictsOf(us2)).toEqual([spread]);
    expect(index.conflictsOf(index.simpleFamilyOf('US:1')!)).toHaveLength(1);

    // The provider's grouping never moves an application: the families stay as the priorities say.
    expect(index.membersOfExtended(us1)).toEqual(['US:1']);
    // When the hub learns the missing link, the conflict disappears, and the change says where to look.
    const change = index.upsert(app('US:2', ['KR:R', 'JP:Q'], { providerOffice: 'US', providerFamilyId: 'USF-9' }));
    expect(index.conflictsOf(index.extendedFamilyOf('US:1')!)).toEqual([]);
    expect(change.recheckConflicts).toContainEqual({ kind: 'extended', id: index.extendedFamilyOf('US:1') });
    // Correcting a provider id is a change to recheck, too.
    const fix = index.upsert(app('EP:2', ['GB:P'], { providerOffice: 'EP', providerFamilyId: 'EPF-1' }));
    expect(fix.moved).toEqual([]);
    expect(fix.recheckConflicts).toContainEqual({ kind: 'simple', id: simple });
    expect(index.conflictsOf(simple)).toEqual([]);
    expect(index.conflictsOf('no-such-family')).toEqual([]);
  });

  it('provider family ids are compared with the notion the office uses', () => {
    const apps = [
      // One INPADOC-like id over two simple families of one extended family: expected.
      app('EP:1', ['GB:P'], { providerOffice: 'EP', providerFamilyId: 'INPADOC-1' }),
      app('EP:2', ['GB:P', 'GB:Q'], { providerOffice: 'EP', providerFamilyId: 'INPADOC-1' }),
      // Two DOCDB-like ids inside one extended family: expected.
      app('JP:1', ['GB:P'], { providerOffice: 'JP', providerFamilyId: 'D-1' }),
      app('JP:2', ['GB:P', 'GB:Q'], { providerOffice: 'JP', providerFamilyId: 'D-2' }),
    ];
    const naive = FamilyIndex.recompute(apps, counter());
    expect(naive.conflictsOf(naive.simpleFamilyOf('EP:1')!).map((c) => c.rule)).toEqual(['provider-id-spread']);
    expect(naive.conflictsOf(naive.extendedFamilyOf('JP:1')!).map((c) => [c.providerOffice, c.rule])).toEqual([['JP', 'several-provider-ids']]);
    const informed = FamilyIndex.recompute(apps, { ...counter(), providerFamilyKind: (office) => (office === 'EP' ? 'extended' : office === 'JP' ? 'simple' : undefined) });
    expect(informed.conflictsOf(informed.simpleFamilyOf('EP:1')!)).toEqual([]);
    expect(informed.conflictsOf(informed.extendedFamilyOf('JP:1')!)).toEqual([]);
    // A DOCDB-like id spread over two extended families is still a conflict.
    informed.upsert(app('JP:3', ['DE:Z'], { providerOffice: 'JP', providerFamilyId: 'D-1' }));
    expect(informed.conflictsOf(informed.extendedFamilyOf('JP:3')!).map((c) => c.rule)).toEqual(['provider-id-spread']);
  });

  it('a subset hydrated from its stored form continues exactly like the whole index', () => {
    const ids = counter();
    const whole = new FamilyIndex(ids);
    whole.upsertMany([app('CN:1'), app('US:1', ['CN:1']), app('JP:2'), app('EP:2', ['JP:2']), app('KR:3', ['DE:3'])]);
    whole.upsert(app('US:1', ['CN:1'], { providerFamilyId: 'p' }));
    const { applications, families } = whole.dump();
    // Load only the families an upsert of EP:9 claiming CN:1 and JP:2 touches, as the database would.
    const touched = new Set([whole.extendedFamilyOf('CN:1'), whole.extendedFamilyOf('JP:2')]);
    const subset: StoredApplication[] = applications.filter((a) => touched.has(a.extendedFamilyId));
    const used = new Set(subset.flatMap((a) => [a.simpleFamilyId, a.extendedFamilyId]));
    const part = FamilyIndex.hydrate(
      subset,
      families.filter((f) => used.has(f.id)),
      counter(ids.last()),
    );
    expect(part.validate()).toEqual([]);
    expect(part.size).toBe(4);
    const edit = app('EP:9', ['CN:1', 'JP:2']);
    expect(part.upsert(edit)).toEqual(whole.upsert(edit));
    expect(part.membersOfExtended(part.extendedFamilyOf('EP:9')!)).toEqual(whole.membersOfExtended(whole.extendedFamilyOf('EP:9')!));
  });

  it('refuses stored state that contradicts the priorities', () => {
    const index = new FamilyIndex(counter());
    index.upsertMany([app('CN:1'), app('US:1', ['CN:1']), app('JP:2')]);
    const { applications, families } = index.dump();
    const wrongExtended = applications.map((a) => (a.key === 'US:1' ? { ...a, extendedFamilyId: index.extendedFamilyOf('JP:2')! } : a));
    expect(() => FamilyIndex.hydrate(wrongExtended, families, counter(100))).toThrow(/US:1/);
    const wrongSimple = applications.map((a) => (a.key === 'JP:2' ? { ...a, simpleFamilyId: index.simpleFamilyOf('CN:1')! } : a));
    expect(() => FamilyIndex.hydrate(wrongSimple, families, counter(100))).toThrow(/two computed families/);
    expect(() => FamilyIndex.hydrate(applications, families.slice(1), counter(100))).toThrow(/not among the stored/);
    expect(FamilyIndex.hydrate(applications, families, counter(100)).snapshot()).toEqual(index.snapshot());
  });

  it('refuses malformed input before changing anything', () => {
    const index = new FamilyIndex(counter());
    index.upsert(app('CN:1'));
    const bad = [app('US:1', ['CN:1']), { key: '', priorities: [], providerOffice: 'US' }];
    expect(() => index.upsertMany(bad)).toThrow(TypeError);
    expect(index.has('US:1')).toBe(false);
    expect(() => index.upsert({ key: 'US:2', priorities: [''], providerOffice: 'US' })).toThrow(TypeError);
    expect(() => index.upsert({ key: 'US:2', priorities: [], providerOffice: '' })).toThrow(TypeError);
    const repeating = new FamilyIndex({ newId: () => 'same' });
    expect(() => repeating.upsert(app('CN:1'))).toThrow(/allocator/);
  });
});

// --- property-based ------------------------------------------------------------------------

const KEYS = ['CN:1', 'CN:2', 'US:1', 'US:2', 'EP:1', 'JP:1', 'WO:CN1', 'WO:CN2', 'KR:raw:10-2020-1'];
const arbApp: fc.Arbitrary<FamilyApplication> = fc.record(
  {
    key: fc.constantFrom(...KEYS),
    priorities: fc.array(fc.constantFrom(...KEYS), { maxLength: 3 }),
    pctApplication: fc.option(fc.constantFrom('WO:CN1', 'WO:CN2', 'US:1'), { nil: undefined, freq: 2 }),
    providerFamilyId: fc.option(fc.constantFrom('f1', 'f2', 'f3'), { nil: undefined }),
    providerOffice: fc.constantFrom('EP', 'US'),
  },
  { requiredKeys: ['key', 'priorities', 'providerOffice'] },
);
const arbStep = fc.oneof(
  { weight: 3, arbitrary: arbApp.map((a) => ({ many: false, apps: [a] })) },
  { weight: 1, arbitrary: fc.array(arbApp, { minLength: 1, maxLength: 6 }).map((apps) => ({ many: true, apps })) },
);

function linksOf(a: FamilyApplication): Set<string> {
  const links = new Set(claimsOf(a));
  if (a.pctApplication !== undefined && a.pctApplication !== a.key) links.add(a.pctApplication);
  return links;
}

interface State {
  simple: Map<string, string>;
  extended: Map<string, string>;
  /** signature → simple id */
  signatures: Map<string, string>;
  conflicts: Map<string, string>;
}

function capture(index: FamilyIndex, apps: Map<string, FamilyApplication>): State {
  const state: State = { simple: new Map(), extended: new Map(), signatures: new Map(), conflicts: new Map() };
  for (const key of apps.keys()) {
    const s = index.simpleFamilyOf(key)!;
    const e = index.extendedFamilyOf(key)!;
    state.simple.set(key, s);
    state.extended.set(key, e);
    state.signatures.set(index.signatureOf(s)!.join('|'), s);
  }
  for (const [kind, ids] of [['simple', state.simple], ['extended', state.extended]] as const) {
    for (const id of new Set(ids.values())) {
      const conflicts = index.conflictsOf(id);
      expect(conflicts).toEqual(naiveConflicts(index, apps, kind, id));
      state.conflicts.set(id, JSON.stringify(conflicts));
    }
  }
  return state;
}

/** The extended family a key belongs to in stored state: its own, or that of an application linking to it. */
function familyOfNode(applications: StoredApplication[], key: string): string | undefined {
  for (const a of applications) {
    if (a.key === key || a.priorities.includes(key) || a.pctApplication === key) return a.extendedFamilyId;
  }
  return undefined;
}

/** The stored form with ages replaced by ranks: only their order matters. */
function sortedDump(index: FamilyIndex): ReturnType<FamilyIndex['dump']> {
  const { applications, families } = index.dump();
  return {
    applications: applications.sort((a, b) => a.seq - b.seq).map((a, seq) => ({ ...a, seq })),
    families: families.sort((a, b) => a.seq - b.seq).map((f, seq) => ({ ...f, seq })),
  };
}

function checkChange(change: FamilyChange, before: State, after: State, index: FamilyIndex, removedLinks: boolean): void {
  const moved = [...after.simple.keys()]
    .filter((k) => before.simple.get(k) !== after.simple.get(k) || before.extended.get(k) !== after.extended.get(k))
    .sort()
    .map((key) => ({
      key,
      simple: after.simple.get(key)!,
      extended: after.extended.get(key)!,
      previousSimple: before.simple.get(key) ?? null,
      previousExtended: before.extended.get(key) ?? null,
    }));
  expect(change.moved).toEqual(moved);
  const liveBefore = new Set([...before.simple.values(), ...before.extended.values()]);
  const liveAfter = new Set([...after.simple.values(), ...after.extended.values()]);
  expect(change.created.map((r) => r.id).sort()).toEqual([...liveAfter].filter((id) => !liveBefore.has(id)).sort());
  for (const ref of change.created) expect(index.kindOf(ref.id)).toBe(ref.kind);
  const gone = [...liveBefore].filter((id) => !liveAfter.has(id)).sort();
  const absorbed = change.merged.flatMap((m) => m.absorbed);
  expect([...absorbed, ...change.dissolved.map((d) => d.id)].sort()).toEqual(gone);
  for (const m of change.merged) {
    expect(index.kindOf(m.into)).toBe('extended');
    // The oldest id survives a merge.
    for (const id of m.absorbed) expect(Number(m.into)).toBeLessThan(Number(id));
  }
  for (const s of change.split) expect(s.into.length).toBeGreaterThanOrEqual(2);
  if (!removedLinks) {
    expect(change.split).toEqual([]);
    // Without a removed link, a family only grows or is absorbed by an older one: ids never get younger.
    for (const [key, id] of before.extended) expect(Number(after.extended.get(key))).toBeLessThanOrEqual(Number(id));
  }
  // A signature keeps its simple family id while it has members.
  for (const [sig, id] of after.signatures) if (before.signatures.has(sig)) expect(before.signatures.get(sig)).toBe(id);
  // Families whose conflicts changed are announced.
  const changed = new Set([...change.changed, ...change.recheckConflicts].map((r) => r.id));
  for (const [id, conflicts] of after.conflicts) {
    const previous = before.conflicts.get(id);
    if (previous !== undefined && previous !== conflicts) expect(changed.has(id)).toBe(true);
  }
  for (const ref of change.changed) expect(index.kindOf(ref.id)).toBe(ref.kind);
}

describe('family index: properties', () => {
  it('after any sequence of upserts the incremental index equals the index recomputed from scratch', () => {
    fc.assert(
      fc.property(fc.array(arbStep, { minLength: 1, maxLength: 30 }), (steps) => {
        const ids = counter();
        const index = new FamilyIndex(ids);
        const latest = new Map<string, FamilyApplication>();
        let before = capture(index, latest);
        for (const step of steps) {
          // A copy rebuilt from the stored form (as from the database) must behave identically.
          const stored = index.dump();
          const copy = FamilyIndex.hydrate(stored.applications, stored.families, counter(ids.last()));
          // So must the part the database would load: the extended families of every key the step mentions.
          const touched = new Set<string>();
          for (const a of step.apps) {
            for (const key of [a.key, ...a.priorities, ...(a.pctApplication ? [a.pctApplication] : [])]) {
              const family = familyOfNode(stored.applications, key);
              if (family !== undefined) touched.add(family);
            }
          }
          const loaded = stored.applications.filter((a) => touched.has(a.extendedFamilyId));
          const used = new Set(loaded.flatMap((a) => [a.simpleFamilyId, a.extendedFamilyId]));
          const part = FamilyIndex.hydrate(loaded, stored.families.filter((f) => used.has(f.id)), counter(ids.last()));
          let removedLinks = false;
          for (const a of step.apps) {
            const previous = latest.get(a.key);
            const now = linksOf(a);
            if (previous && [...linksOf(previous)].some((l) => !now.has(l))) removedLinks = true;
            latest.set(a.key, a);
          }
          const change = step.many ? index.upsertMany(step.apps) : index.upsert(step.apps[0]!);
          expect(step.many ? copy.upsertMany(step.apps) : copy.upsert(step.apps[0]!)).toEqual(change);
          expect(sortedDump(copy)).toEqual(sortedDump(index));
          const partChange = step.many ? part.upsertMany(step.apps) : part.upsert(step.apps[0]!);
          // Provider ids outside the loaded part are not visible to it: the database finds those families by query.
          expect({ ...partChange, recheckConflicts: [] }).toEqual({ ...change, recheckConflicts: [] });
          for (const a of part.dump().applications) {
            expect([a.simpleFamilyId, a.extendedFamilyId]).toEqual([index.simpleFamilyOf(a.key), index.extendedFamilyOf(a.key)]);
          }

          expect(index.validate()).toEqual([]);
          const snapshot = index.snapshot();
          // Every application in exactly one simple family, each simple family inside one extended family.
          const simpleMembers = snapshot.simple.flatMap((f) => f.members);
          expect(simpleMembers.slice().sort()).toEqual([...latest.keys()].sort());
          expect(snapshot.extended.flat().sort()).toEqual([...latest.keys()].sort());
          for (const f of snapshot.simple) {
            expect(snapshot.extended.filter((e) => f.members.every((m) => e.includes(m)))).toHaveLength(1);
          }
          expect(snapshot).toEqual(oracle(latest));
          expect(snapshot).toEqual(FamilyIndex.recompute(latest.values(), counter()).snapshot());

          const after = capture(index, latest);
          checkChange(change, before, after, index, removedLinks);
          before = after;
        }
      }),
      { numRuns: Number(process.env.FAMILY_PROPERTY_RUNS ?? 300) },
    );
  });
});

// --- bulk ----------------------------------------------------------------------------------

/** Deterministic generator of realistic families: first filings, Paris-route filings, PCT with national phases, continuations, cross-links. */
function generate(count: number, seed: number): FamilyApplication[] {
  let s = seed >>> 0;
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const offices = ['CN', 'US', 'JP', 'KR', 'EP', 'DE', 'GB', 'FR'];
  const phases = ['EP', 'US', 'JP', 'KR', 'CN', 'AU', 'CA', 'IN', 'BR'];
  const out: FamilyApplication[] = [];
  const firstFilings: string[] = [];
  let serial = 0;
  const next = (office: string) => `${office}:${2_000_000 + serial++}`;
  const seen = new Set<string>();
  const push = (a: FamilyApplication) => {
    if (seen.has(a.key)) return;
    seen.add(a.key);
    out.push(a);
  };
  while (out.length < count) {
    const office = pick(offices);
    const priorities = [next(office)];
    if (random() < 0.2) priorities.push(next(office));
    if (random() < 0.02) priorities.push(`${office}:raw:${Math.floor(random() * 1e6)}`);
    if (random() < 0.03 && firstFilings.length > 0) priorities.push(pick(firstFilings));
    firstFilings.push(priorities[0]!);
    const familyId = `F${serial}`;
    for (const p of priorities) if (random() < 0.6 && !p.includes(':raw:')) push(app(p, [], { providerFamilyId: familyId }));
    for (let i = Math.floor(random() * 3); i > 0; i--) push(app(next(pick(offices)), priorities, { providerFamilyId: familyId }));
    if (random() < 0.5) {
      const w = `WO:${office}2023${String(serial++).padStart(6, '0')}`;
      push(app(w, priorities, { providerOffice: 'WO' }));
      for (let i = 2 + Math.floor(random() * 4); i > 0; i--) {
        const r = random();
        const claims = r < 0.8 ? priorities : r < 0.95 ? [] : [...priorities, next('JP')];
        const entry = next(pick(phases));
        push(app(entry, claims, { pctApplication: w, providerFamilyId: random() < 0.01 ? `${familyId}x` : familyId }));
        if (random() < 0.1) push(app(next('US'), [...priorities, entry])); // continuation
        if (random() < 0.05) push(app(next('EP'), priorities)); // divisional
      }
    }
  }
  out.length = count;
  // Out-of-order arrival, as from many providers.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('family index: bulk', () => {
  it('ingests 100,000 applications with upsertMany and equals the recomputed index', { timeout: 180_000 }, () => {
    const apps = generate(100_000, 42);
    const index = new FamilyIndex(counter());
    let t0 = performance.now();
    const change = index.upsertMany(apps.slice(0, 50_000));
    for (let i = 50_000; i < apps.length; i += 5_000) index.upsertMany(apps.slice(i, i + 5_000));
    const ingest = performance.now() - t0;
    expect(change.moved).toHaveLength(50_000);

    t0 = performance.now();
    const scratch = FamilyIndex.recompute(apps, counter());
    const recompute = performance.now() - t0;

    // Re-upserts that drop a priority (splits) and add one (merges).
    const edits = apps.slice(0, 2_000).map((a, i) => (i % 2 === 0 ? { ...a, priorities: a.priorities.slice(1) } : { ...a, priorities: [...a.priorities, apps[i + 5_000]!.key] }));
    t0 = performance.now();
    index.upsertMany(edits);
    const edit = performance.now() - t0;

    const sizes = index.snapshot().extended.map((m) => m.length);
    console.log(
      `family index: ingest 100k ${ingest.toFixed(0)} ms, recompute ${recompute.toFixed(0)} ms, 2k edits ${edit.toFixed(0)} ms; ` +
        `${sizes.length} extended families, largest ${Math.max(...sizes)}`,
    );
    expect(ingest).toBeLessThan(20_000);
    const latest = new Map(apps.map((a) => [a.key, a]));
    const scratchBefore = scratch.snapshot();
    expect(scratchBefore.simple.length).toBeGreaterThan(10_000);
    for (const e of edits) latest.set(e.key, e);
    expect(index.snapshot()).toEqual(FamilyIndex.recompute(latest.values(), counter()).snapshot());
    expect(index.validate()).toEqual([]);
  });
});
