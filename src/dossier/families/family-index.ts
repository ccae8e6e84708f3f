/**
 * The family index (DESIGN §2 Family, §8 bulk ingest): simple families (as DOCDB) and
 * extended families (as INPADOC) computed by the hub from priority claims, kept current
 * incrementally on every bibliographic upsert. Pure and in memory; docs/families.md has the
 * rules with examples and the plan for running it against PostgreSQL.
 *
 * Keys. Every application and every priority is named by its normalised identity
 * `${officeCode}:${number}` (normalize.ts; PCT applications are `WO:CN2023123456`). A priority
 * whose number could not be normalised is `${office}:raw:${raw}`. Keys are opaque here: a
 * priority key that is also an application's key *is* that application.
 *
 * Definitions, for an application X with input (priorities, pctApplication):
 * - pct(X) = X.pctApplication, unless it is X itself (ignored).
 * - claims(X) = the distinct priorities of X without X itself and without pct(X): the PCT
 *   link is not a priority claim (providers often list the international application among
 *   a national phase entry's priorities; it is recorded as the PCT link instead).
 * - The first filings of X, first(X) = claims(X), or {X} when X claims nothing: an
 *   application without priority claims is its own first filing. An application that is
 *   not (yet) known to the index is taken as its own first filing.
 * - Continuations, continuations-in-part and divisionals are ordinary priority claims: a
 *   divisional claiming its parent's priorities joins the parent's simple family; a
 *   continuation that also claims the parent (domestic benefit) has a signature of its own.
 * - PCT national or regional phase entry E of international application W = pct(E):
 *   signature(E) = claims(E) ∪ first(W). With no priorities of its own E has exactly W's
 *   signature and joins W's simple family (as DOCDB); priorities E repeats from W change
 *   nothing; a priority E adds (rare, e.g. a JP entry with an extra domestic claim) gives E
 *   a simple family of its own. An entry never has *fewer* first filings than W: PCT
 *   priority claims carry into the national phase (PCT Art. 8), so a provider's incomplete
 *   priority list on the entry does not split it from W. W's own pctApplication is not
 *   followed (one level only).
 * - Every other application: signature(X) = first(X).
 * - Simple family: the applications with the same signature (a set: sorted, de-duplicated).
 * - Extended family: a connected component of the graph whose nodes are keys (applications
 *   and priorities) and whose edges link each application X to each of claims(X) and to
 *   pct(X). Two applications sharing any priority, or one claiming the other, or an entry
 *   and its international application are in one extended family. Its members are the
 *   applications in the component (priority-only keys are nodes, not members). Every
 *   simple family lies inside one extended family (each key of signature(X) is linked to X
 *   directly or through W).
 *
 * Ids. Family ids are opaque strings from the injected allocator `newId` (a counter in
 * tests, UUIDv7 in the database); it must never repeat an id. Both kinds share the
 * allocator, so ids are unique across kinds.
 * - Simple: one id per signature, allocated when the signature gets its first member and
 *   kept while it has members; a simple family never merges or splits, its members move.
 *   When the last member leaves, the family is dissolved (reported with where its members
 *   went); the signature gets a new id if it is ever used again (within one batch, a
 *   signature that empties and fills again keeps its id).
 * - Extended: when families merge, the OLDEST id (earliest allocated) survives, so a
 *   family's id stays stable while it grows; the absorbed ids are reported (the database
 *   keeps them as redirects). When an upsert removes a link and a component falls apart,
 *   the part holding most of the old family's members keeps the id (tie: the part holding
 *   its oldest member, by first upsert); the other parts get new ids. Extended families
 *   never dissolve (applications are never removed).
 *
 * Provider family ids. Each application may carry the family id its providing office gives
 * it. They never drive the computation ("no silent merging"); `conflictsOf` shows where
 * they disagree with the hub: several ids of one provider office inside one hub family, or
 * one provider id spread over several hub families. `providerFamilyKind` (optional) tells
 * which notion an office's ids follow so that expected differences are not reported:
 * DOCDB-like ids (`simple`) legitimately differ inside an extended family, INPADOC-like ids
 * (`extended`) legitimately span several simple families.
 *
 * Cost. An upsert that only adds links merges components small-into-large (union by size
 * over per-component node sets): near O(size of the smaller component), plus the members
 * whose id changes (when the smaller family is the older one, the larger family's members
 * take its id, and are reported as moved). Removing a link (rare) re-traverses that one
 * component. A signature change touches the application and, for an international
 * application, its entries. `upsertMany` applies a batch and reports the net change;
 * `recompute` builds from scratch with a plain union-find and is the reference the
 * incremental index must equal.
 *
 * Storage. `dump()` is the stored form (per application: its record, family ids and age;
 * per family: kind and allocation order); `hydrate()` rebuilds an index from all of it or
 * from a part closed under extended families (what a database batch loads), and continues
 * exactly as the original would. Deterministic: the same state and input give the same
 * change and the same new ids, whatever the history that led to the state.
 */

export type FamilyKind = 'simple' | 'extended';

/** One application as the family index sees it (from a bibliographic upsert). */
export interface FamilyApplication {
  /** `${officeCode}:${number}` of the application (normalised). */
  key: string;
  /** Keys of the claimed priority applications (normalised, or `${office}:raw:${raw}`). */
  priorities: readonly string[];
  /** Key of the international (WO) application when this is a PCT national/regional phase entry. */
  pctApplication?: string | undefined;
  /** The providing office's own family id for this application, if it gives one. */
  providerFamilyId?: string | undefined;
  /** ST.3 code of the office that provided the record (provider family ids are scoped by it). */
  providerOffice: string;
}

export interface FamilyIndexOptions {
  /** Allocates a fresh family id; must never repeat. Allocation order defines "oldest". */
  newId: () => string;
  /**
   * Which hub notion an office's provider family ids follow: `simple` (DOCDB-like) or
   * `extended` (INPADOC-like); undefined (default) compares them against both kinds.
   */
  providerFamilyKind?: (providerOffice: string) => FamilyKind | undefined;
}

export interface FamilyRef {
  kind: FamilyKind;
  id: string;
}

/** An application whose simple or extended family changed; `previous…` is null for a new application. */
export interface ApplicationMove {
  key: string;
  simple: string;
  extended: string;
  previousSimple: string | null;
  previousExtended: string | null;
}

/** The net effect of an upsert or a batch, relative to the state before it. Lists are sorted. */
export interface FamilyChange {
  /** Families that did not exist before and exist now, in allocation order (oldest first: insert them in this order). */
  created: FamilyRef[];
  /** Extended families that absorbed pre-existing ones (each absorbed id redirects to `into`). */
  merged: { into: string; absorbed: string[] }[];
  /** Pre-existing extended families whose members now live in several families (`into`, which includes `id` itself if it still holds some). */
  split: { id: string; into: string[] }[];
  /** Pre-existing simple families left without members, with the families their members moved to. */
  dissolved: { id: string; movedTo: string[] }[];
  /** Families existing now whose member set changed (created ones included). */
  changed: FamilyRef[];
  /** Applications whose simple or extended family id changed (new applications included). */
  moved: ApplicationMove[];
  /** Families whose provider-id conflicts may have changed (membership or provider ids changed). */
  recheckConflicts: FamilyRef[];
}

export type FamilyConflict =
  | {
      /** One hub family, several family ids of one provider office. */
      rule: 'several-provider-ids';
      providerOffice: string;
      providerFamilyIds: { providerFamilyId: string; members: string[] }[];
    }
  | {
      /** One provider family id, several hub families (this one included). */
      rule: 'provider-id-spread';
      providerOffice: string;
      providerFamilyId: string;
      families: { familyId: string; members: string[] }[];
    };

/** An application as stored with its families (see `dump` and `hydrate`). */
export interface StoredApplication extends FamilyApplication {
  simpleFamilyId: string;
  extendedFamilyId: string;
  /** Age of the application (first-upsert order): ties in splits go to the oldest member. */
  seq: number;
}

/** A live family as stored: `seq` is its allocation order ("oldest" survives merges). */
export interface StoredFamily {
  id: string;
  kind: FamilyKind;
  seq: number;
}

/** A canonical form of the index, independent of id naming: equal snapshots mean equal partitions. */
export interface FamilySnapshot {
  /** Simple families ordered by their first member; members sorted. */
  simple: { signature: string[]; members: string[] }[];
  /** Extended families' members, sorted, ordered by first member. */
  extended: string[][];
}

interface AppState {
  readonly key: string;
  /** First-upsert order: "the oldest member". */
  readonly seq: number;
  claims: readonly string[];
  pct: string | undefined;
  /** claims + pct: the extended-family links. */
  links: readonly string[];
  sigKey: string;
  simple: SimpleFamily | undefined;
  providerOffice: string;
  providerFamilyId: string | undefined;
  providerKey: string | undefined;
}

interface Component {
  id: string | undefined;
  /** Application and priority keys; the applications among them are the members. */
  readonly nodes: Set<string>;
  memberCount: number;
  dead: boolean;
}

interface SimpleFamily {
  readonly id: string;
  readonly sigKey: string;
  readonly signature: readonly string[];
  readonly members: Set<string>;
}

interface BuildRecord {
  app: Normalised;
  seq: number;
  simpleId?: string;
  extendedId?: string;
}

interface Normalised {
  key: string;
  claims: string[];
  pct: string | undefined;
  links: string[];
  providerOffice: string;
  providerFamilyId: string | undefined;
  providerKey: string | undefined;
}

/** Collects what one upsert or batch touched, to report the net change at the end. */
class ChangeTracker {
  /** Family ids of each touched application before the change (null: new application); both maps have the same keys. */
  readonly beforeSimple = new Map<string, string | null>();
  readonly beforeExtended = new Map<string, string | null>();
  /** Ids allocated during the change. */
  readonly created = new Set<string>();
  /** Extended id → the id that absorbed it. */
  readonly absorbed = new Map<string, string>();
  /** Pre-existing extended id → its member count before the change (recorded on first touch). */
  readonly sizeBefore = new Map<string, number>();
  /** Provider keys whose groups changed (an application got or lost the key). */
  readonly providerKeys = new Set<string>();
  /** Simple families that lost their last member during the change. */
  readonly emptied = new Set<SimpleFamily>();
  /** Applications whose provider family id changed. */
  readonly providerChanged = new Set<string>();
}

/** Separates the keys of a signature and the parts of a provider key; keys cannot contain it (nor can PostgreSQL text). */
const SEP = '\u0000';

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Family references ordered by kind (`extended` first), then id. */
function refs(ids: { simple: Set<string>; extended: Set<string> }): FamilyRef[] {
  return [
    ...[...ids.extended].sort().map((id): FamilyRef => ({ kind: 'extended', id })),
    ...[...ids.simple].sort().map((id): FamilyRef => ({ kind: 'simple', id })),
  ];
}

function isKey(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && !value.includes(SEP);
}

function normalise(input: FamilyApplication): Normalised {
  if (input === null || typeof input !== 'object') throw new TypeError('A family application must be an object');
  const { key, priorities, pctApplication, providerFamilyId, providerOffice } = input;
  if (!isKey(key)) throw new TypeError('A family application needs a non-empty key without NUL');
  if (!Array.isArray(priorities) || !priorities.every(isKey)) {
    throw new TypeError(`Application ${key}: priorities must be an array of non-empty keys without NUL`);
  }
  if (pctApplication !== undefined && !isKey(pctApplication)) {
    throw new TypeError(`Application ${key}: pctApplication must be a non-empty key without NUL`);
  }
  if (providerFamilyId !== undefined && (typeof providerFamilyId !== 'string' || providerFamilyId.includes(SEP))) {
    throw new TypeError(`Application ${key}: providerFamilyId must be a string without NUL`);
  }
  if (!isKey(providerOffice)) throw new TypeError(`Application ${key}: providerOffice is required`);
  const pct = pctApplication !== undefined && pctApplication !== key ? pctApplication : undefined;
  const claims = sortedUnique(priorities.filter((p) => p !== key && p !== pct));
  const links = pct === undefined ? claims : [...claims, pct];
  const family = providerFamilyId === '' ? undefined : providerFamilyId;
  return {
    key,
    claims,
    pct,
    links,
    providerOffice,
    providerFamilyId: family,
    providerKey: family === undefined ? undefined : `${providerOffice}${SEP}${family}`,
  };
}

/** The incremental family index. */
export class FamilyIndex {
  private readonly newId: () => string;
  private readonly providerFamilyKind: ((office: string) => FamilyKind | undefined) | undefined;

  private readonly apps = new Map<string, AppState>();
  private appSeq = 0;
  /** key → the applications linking to it (claims or PCT link). */
  private readonly linkedFrom = new Map<string, string[]>();
  /** international application key → its national/regional phase entries. */
  private readonly entries = new Map<string, string[]>();
  private readonly nodeComp = new Map<string, Component>();
  private readonly compById = new Map<string, Component>();
  private readonly simpleBySig = new Map<string, SimpleFamily>();
  private readonly simpleById = new Map<string, SimpleFamily>();
  /** Live family ids: kind and allocation order. */
  private readonly allocated = new Map<string, { kind: FamilyKind; seq: number }>();
  private idSeq = 0;
  /** provider key (`office\0id`) → applications carrying it. */
  private readonly providerGroups = new Map<string, string[]>();

  private tracker = new ChangeTracker();

  constructor(options: FamilyIndexOptions) {
    if (typeof options?.newId !== 'function') throw new TypeError('FamilyIndex needs a newId allocator');
    this.newId = options.newId;
    this.providerFamilyKind = options.providerFamilyKind;
  }

  /** Builds the index from scratch (the latest record of each key wins; first appearance sets its age). */
  static recompute(applications: Iterable<FamilyApplication>, options: FamilyIndexOptions): FamilyIndex {
    const latest = new Map<string, Normalised>();
    for (const input of applications) {
      const app = normalise(input);
      latest.set(app.key, app);
    }
    let seq = 0;
    return FamilyIndex.build(
      [...latest.values()].map((app) => ({ app, seq: seq++ })),
      options,
      undefined,
    );
  }

  /**
   * Rebuilds an index from stored state (e.g. the affected components loaded from the
   * database) keeping the stored ids and ages, so that upserts continue exactly as they
   * would have on the index that produced it. The applications must be closed under
   * extended families (every member of every family they are in). Throws when the stored
   * ids do not match the families the records imply.
   */
  static hydrate(applications: Iterable<StoredApplication>, families: Iterable<StoredFamily>, options: FamilyIndexOptions): FamilyIndex {
    const stored = new Map<string, StoredFamily>();
    for (const family of families) {
      if (!isKey(family.id) || (family.kind !== 'simple' && family.kind !== 'extended') || !Number.isFinite(family.seq)) {
        throw new TypeError(`Stored family ${String(family.id)}: needs an id, a kind and a numeric seq`);
      }
      if (stored.has(family.id)) throw new TypeError(`Stored family ${family.id} given twice`);
      stored.set(family.id, family);
    }
    const seen = new Set<string>();
    const records: BuildRecord[] = [];
    for (const record of applications) {
      const app = normalise(record);
      if (seen.has(app.key)) throw new TypeError(`Stored application ${app.key} given twice`);
      if (!Number.isFinite(record.seq)) throw new TypeError(`Stored application ${app.key}: needs a numeric seq`);
      seen.add(app.key);
      records.push({ app, seq: record.seq, simpleId: record.simpleFamilyId, extendedId: record.extendedFamilyId });
    }
    records.sort((a, b) => a.seq - b.seq);
    return FamilyIndex.build(records, options, stored);
  }

  /** The stored form of the index: what the database keeps per application and per family (see docs/families.md). */
  dump(): { applications: StoredApplication[]; families: StoredFamily[] } {
    const applications: StoredApplication[] = [];
    for (const state of this.apps.values()) {
      applications.push({
        key: state.key,
        priorities: [...state.claims],
        ...(state.pct !== undefined ? { pctApplication: state.pct } : {}),
        ...(state.providerFamilyId !== undefined ? { providerFamilyId: state.providerFamilyId } : {}),
        providerOffice: state.providerOffice,
        simpleFamilyId: state.simple!.id,
        extendedFamilyId: this.nodeComp.get(state.key)!.id!,
        seq: state.seq,
      });
    }
    const families = [...this.allocated].map(([id, { kind, seq }]) => ({ id, kind, seq }));
    return { applications, families };
  }

  /** Recompute (`stored` undefined: ids allocated in order of each family's oldest member) or hydrate (`stored`: ids checked and kept). */
  private static build(records: BuildRecord[], options: FamilyIndexOptions, stored: Map<string, StoredFamily> | undefined): FamilyIndex {
    const index = new FamilyIndex(options);
    // Plain union-find over all keys (path halving, union by size).
    const nodeNo = new Map<string, number>();
    const parent: number[] = [];
    const size: number[] = [];
    const node = (key: string): number => {
      let n = nodeNo.get(key);
      if (n === undefined) {
        n = parent.length;
        nodeNo.set(key, n);
        parent.push(n);
        size.push(1);
      }
      return n;
    };
    const find = (n: number): number => {
      let x = n;
      for (let p = parent[x]!; p !== x; p = parent[x]!) {
        const grand = parent[p]!;
        parent[x] = grand;
        x = grand;
      }
      return x;
    };
    for (const { app, seq } of records) {
      const state: AppState = {
        key: app.key,
        seq,
        claims: app.claims,
        pct: app.pct,
        links: app.links,
        sigKey: '',
        simple: undefined,
        providerOffice: app.providerOffice,
        providerFamilyId: app.providerFamilyId,
        providerKey: app.providerKey,
      };
      index.apps.set(app.key, state);
      index.appSeq = Math.max(index.appSeq, seq + 1);
      const a = node(app.key);
      for (const link of app.links) {
        index.addTo(index.linkedFrom, link, app.key);
        let ra = find(a);
        let rb = find(node(link));
        if (ra === rb) continue;
        if (size[ra]! < size[rb]!) [ra, rb] = [rb, ra];
        parent[rb] = ra;
        size[ra]! += size[rb]!;
      }
      if (app.pct !== undefined) index.addTo(index.entries, app.pct, app.key);
      if (app.providerKey !== undefined) index.addTo(index.providerGroups, app.providerKey, app.key);
    }
    const adopt = (kind: FamilyKind, id: string | undefined, key: string): string => {
      if (!stored) return index.allocate(kind);
      const family = id === undefined ? undefined : stored.get(id);
      if (!family || family.kind !== kind) throw new Error(`Stored application ${key}: its ${kind} family ${String(id)} is not among the stored ${kind} families`);
      if (index.allocated.has(family.id)) throw new Error(`Stored ${kind} family ${family.id} holds applications of two computed families (first seen with ${key})`);
      index.allocated.set(family.id, { kind, seq: family.seq });
      index.idSeq = Math.max(index.idSeq, family.seq + 1);
      return family.id;
    };
    // Components: ids in order of each component's oldest member.
    const compOfRoot = new Map<number, Component>();
    for (const { app, extendedId } of records) {
      const root = find(nodeNo.get(app.key)!);
      let comp = compOfRoot.get(root);
      if (!comp) {
        comp = { id: adopt('extended', extendedId, app.key), nodes: new Set(), memberCount: 0, dead: false };
        compOfRoot.set(root, comp);
        index.compById.set(comp.id!, comp);
      } else if (stored && comp.id !== extendedId) {
        throw new Error(`Stored application ${app.key}: extended family ${String(extendedId)}, but it is linked to family ${String(comp.id)}`);
      }
      comp.memberCount++;
    }
    for (const [key, n] of nodeNo) {
      const comp = compOfRoot.get(find(n))!;
      comp.nodes.add(key);
      index.nodeComp.set(key, comp);
    }
    for (const { app, simpleId } of records) {
      const state = index.apps.get(app.key)!;
      const signature = index.signatureFor(state);
      const sigKey = signature.join(SEP);
      let family = index.simpleBySig.get(sigKey);
      if (!family) {
        family = { id: adopt('simple', simpleId, app.key), sigKey, signature, members: new Set() };
        index.simpleBySig.set(sigKey, family);
        index.simpleById.set(family.id, family);
      } else if (stored && family.id !== simpleId) {
        throw new Error(`Stored application ${app.key}: simple family ${String(simpleId)}, but its signature is that of family ${family.id}`);
      }
      family.members.add(state.key);
      state.sigKey = sigKey;
      state.simple = family;
    }
    return index;
  }

  /** Inserts or replaces one application's record and updates the affected families. */
  upsert(application: FamilyApplication): FamilyChange {
    return this.upsertMany([application]);
  }

  /**
   * Applies a batch of upserts (in order; a key may repeat) and reports the net change.
   * Validates every record before changing anything. An allocator that throws or repeats an
   * id mid-batch leaves the index inconsistent: discard it (the database transaction rolls back).
   */
  upsertMany(applications: Iterable<FamilyApplication>): FamilyChange {
    const batch = [...applications].map(normalise);
    this.tracker = new ChangeTracker();
    for (const app of batch) this.apply(app);
    for (const family of this.tracker.emptied) {
      if (family.members.size > 0) continue;
      this.simpleBySig.delete(family.sigKey);
      this.simpleById.delete(family.id);
      this.allocated.delete(family.id);
    }
    const change = this.report();
    this.tracker = new ChangeTracker();
    return change;
  }

  /** Number of applications in the index. */
  get size(): number {
    return this.apps.size;
  }

  has(key: string): boolean {
    return this.apps.has(key);
  }

  simpleFamilyOf(key: string): string | undefined {
    return this.apps.get(key)?.simple?.id;
  }

  extendedFamilyOf(key: string): string | undefined {
    return this.apps.has(key) ? this.nodeComp.get(key)?.id : undefined;
  }

  /** The kind of a live family id, undefined when it names none (absorbed, dissolved or unknown). */
  kindOf(id: string): FamilyKind | undefined {
    return this.allocated.get(id)?.kind;
  }

  /** Members of a simple family, sorted; undefined when the id names no live simple family. */
  membersOfSimple(id: string): string[] | undefined {
    const family = this.simpleById.get(id);
    return family ? [...family.members].sort() : undefined;
  }

  /** Members of an extended family, sorted; undefined when the id names no live extended family. */
  membersOfExtended(id: string): string[] | undefined {
    const comp = this.compById.get(id);
    return comp ? this.membersOf(comp).sort() : undefined;
  }

  /** The signature (sorted first filings) of a simple family; undefined when the id names no live simple family. */
  signatureOf(simpleId: string): string[] | undefined {
    const family = this.simpleById.get(simpleId);
    return family ? [...family.signature] : undefined;
  }

  /** Provider family ids that disagree with a hub family (simple or extended); empty when none or the id is unknown. */
  conflictsOf(id: string): FamilyConflict[] {
    const kind = this.kindOf(id);
    const simple = kind === 'simple' ? this.simpleById.get(id) : undefined;
    const comp = kind === 'extended' ? this.compById.get(id) : undefined;
    const members = simple ? simple.members : comp ? this.membersOf(comp) : undefined;
    if (!kind || !members) return [];
    const byOffice = new Map<string, Map<string, string[]>>();
    for (const key of members) {
      const state = this.apps.get(key)!;
      if (state.providerFamilyId === undefined) continue;
      let ids = byOffice.get(state.providerOffice);
      if (!ids) byOffice.set(state.providerOffice, (ids = new Map<string, string[]>()));
      const list = ids.get(state.providerFamilyId);
      if (list) list.push(key);
      else ids.set(state.providerFamilyId, [key]);
    }
    const conflicts: FamilyConflict[] = [];
    for (const office of [...byOffice.keys()].sort()) {
      const ids = byOffice.get(office)!;
      const notion = this.providerFamilyKind?.(office);
      // DOCDB-like ids may differ inside an extended family; INPADOC-like ids may span simple families.
      if (ids.size >= 2 && !(kind === 'extended' && notion === 'simple')) {
        conflicts.push({
          rule: 'several-provider-ids',
          providerOffice: office,
          providerFamilyIds: [...ids.keys()].sort().map((providerFamilyId) => ({ providerFamilyId, members: ids.get(providerFamilyId)!.sort() })),
        });
      }
      if (kind === 'simple' && notion === 'extended') continue;
      for (const providerFamilyId of [...ids.keys()].sort()) {
        const group = this.providerGroups.get(`${office}${SEP}${providerFamilyId}`)!;
        const families = new Map<string, string[]>();
        for (const key of group) {
          const familyId = kind === 'simple' ? this.simpleFamilyOf(key)! : this.extendedFamilyOf(key)!;
          const list = families.get(familyId);
          if (list) list.push(key);
          else families.set(familyId, [key]);
        }
        if (families.size < 2) continue;
        conflicts.push({
          rule: 'provider-id-spread',
          providerOffice: office,
          providerFamilyId,
          families: [...families.keys()].sort().map((familyId) => ({ familyId, members: families.get(familyId)!.sort() })),
        });
      }
    }
    return conflicts;
  }

  /** The partitions, independent of id naming (for equality of incremental and recomputed indexes). */
  snapshot(): FamilySnapshot {
    const byFirst = <T>(first: (t: T) => string) => (a: T, b: T) => compareStrings(first(a), first(b));
    return {
      simple: [...this.simpleById.values()]
        .map((f) => ({ signature: [...f.signature], members: [...f.members].sort() }))
        .sort(byFirst((f) => f.members[0] ?? '')),
      extended: [...this.compById.values()].map((c) => this.membersOf(c).sort()).sort(byFirst((m) => m[0] ?? '')),
    };
  }

  /** Checks the internal invariants; returns the violations found (empty when consistent). For tests and diagnostics. */
  validate(): string[] {
    const problems: string[] = [];
    const seenComps = new Set<Component>();
    for (const [id, comp] of this.compById) {
      if (comp.id !== id || comp.dead) problems.push(`extended ${id}: registry mismatch`);
      if (comp.memberCount === 0 || comp.memberCount !== this.membersOf(comp).length) problems.push(`extended ${id}: member count ${comp.memberCount} is wrong`);
      if (this.allocated.get(id)?.kind !== 'extended') problems.push(`extended ${id}: not allocated`);
      seenComps.add(comp);
    }
    for (const [key, comp] of this.nodeComp) {
      if (!seenComps.has(comp)) problems.push(`node ${key}: in an unregistered component`);
      if (!comp.nodes.has(key)) problems.push(`node ${key}: missing from its component`);
      if (!this.apps.has(key) && !this.linkedFrom.get(key)?.length) problems.push(`node ${key}: orphan priority node`);
    }
    for (const comp of seenComps) {
      for (const key of comp.nodes) if (this.nodeComp.get(key) !== comp) problems.push(`node ${key}: stale in component ${comp.id}`);
    }
    for (const [key, state] of this.apps) {
      const comp = this.nodeComp.get(key);
      if (!comp) problems.push(`application ${key}: no extended family`);
      for (const link of state.links) {
        if (!this.linkedFrom.get(link)?.includes(key)) problems.push(`application ${key}: link ${link} not indexed`);
        if (this.nodeComp.get(link) !== comp) problems.push(`application ${key}: linked to ${link} in another component`);
      }
      const sigKey = this.signatureFor(state).join(SEP);
      if (state.sigKey !== sigKey || state.simple?.sigKey !== sigKey || !state.simple.members.has(key)) {
        problems.push(`application ${key}: stale simple family`);
      }
      if (state.providerKey !== undefined && !this.providerGroups.get(state.providerKey)?.includes(key)) problems.push(`application ${key}: provider id not indexed`);
    }
    for (const [link, from] of this.linkedFrom) {
      if (new Set(from).size !== from.length) problems.push(`link → ${link}: duplicates`);
      for (const key of from) if (!this.apps.get(key)?.links.includes(link)) problems.push(`link ${key} → ${link}: stale`);
    }
    for (const [w, list] of this.entries) {
      for (const key of list) if (this.apps.get(key)?.pct !== w) problems.push(`entry ${key} of ${w}: stale`);
    }
    for (const [pk, list] of this.providerGroups) {
      for (const key of list) if (this.apps.get(key)?.providerKey !== pk) problems.push(`provider group of ${key}: stale`);
    }
    for (const [id, family] of this.simpleById) {
      if (this.simpleBySig.get(family.sigKey) !== family || family.id !== id) problems.push(`simple ${id}: registry mismatch`);
      if (family.members.size === 0) problems.push(`simple ${id}: no members`);
      if (this.allocated.get(id)?.kind !== 'simple') problems.push(`simple ${id}: not allocated`);
      const comps = new Set([...family.members].map((key) => this.nodeComp.get(key)));
      if (comps.size !== 1) problems.push(`simple ${id}: spread over ${comps.size} extended families`);
    }
    if (this.allocated.size !== this.compById.size + this.simpleById.size) problems.push('allocated ids out of step with live families');
    return problems;
  }

  // --- incremental maintenance -------------------------------------------------------

  private apply(app: Normalised): void {
    const key = app.key;
    const previous = this.apps.get(key);
    const pending: Component[] = [];
    let baseChanged: boolean;
    if (!previous) {
      this.track(key);
      const state: AppState = {
        key,
        seq: this.appSeq++,
        claims: app.claims,
        pct: app.pct,
        links: app.links,
        sigKey: '',
        simple: undefined,
        providerOffice: app.providerOffice,
        providerFamilyId: undefined,
        providerKey: undefined,
      };
      this.apps.set(key, state);
      // Known so far as someone's priority or international application, or joining the family of a link.
      let comp = this.nodeComp.get(key);
      for (let i = 0; !comp && i < app.links.length; i++) comp = this.nodeComp.get(app.links[i]!);
      if (comp) {
        this.touch(comp);
        comp.nodes.add(key);
        comp.memberCount++;
      } else {
        comp = { id: undefined, nodes: new Set([key]), memberCount: 1, dead: false };
        pending.push(comp);
      }
      this.nodeComp.set(key, comp);
      for (const link of app.links) {
        this.addTo(this.linkedFrom, link, key);
        this.link(key, link);
      }
      if (app.pct !== undefined) this.addTo(this.entries, app.pct, key);
      baseChanged = true;
    } else {
      const oldLinks = new Set(previous.links);
      const newLinks = new Set(app.links);
      const removed = previous.links.filter((l) => !newLinks.has(l));
      const added = app.links.filter((l) => !oldLinks.has(l));
      baseChanged = previous.claims.join(SEP) !== app.claims.join(SEP);
      if (previous.pct !== app.pct) {
        if (previous.pct !== undefined) this.removeFrom(this.entries, previous.pct, key);
        if (app.pct !== undefined) this.addTo(this.entries, app.pct, key);
      }
      previous.claims = app.claims;
      previous.pct = app.pct;
      previous.links = app.links;
      for (const link of removed) this.removeFrom(this.linkedFrom, link, key);
      for (const link of added) this.addTo(this.linkedFrom, link, key);
      if (removed.length > 0) pending.push(...this.splitComponent(this.nodeComp.get(key)!));
      for (const link of added) this.link(key, link);
    }
    const unnamed = pending.filter((c) => !c.dead && c.id === undefined);
    const own = this.nodeComp.get(key)!;
    if (own.id === undefined && !unnamed.includes(own)) unnamed.push(own);
    if (unnamed.length > 1) {
      const oldest = new Map(unnamed.map((c) => [c, this.oldestSeq(c)] as const));
      unnamed.sort((a, b) => oldest.get(a)! - oldest.get(b)!);
    }
    for (const comp of unnamed) {
      comp.id = this.allocate('extended');
      this.tracker.created.add(comp.id);
      this.compById.set(comp.id, comp);
    }

    this.updateSignature(key);
    if (baseChanged) {
      // Oldest first, so that new simple family ids do not depend on the history of the entry list.
      const entries = (this.entries.get(key) ?? []).map((entry) => this.apps.get(entry)!).sort((a, b) => a.seq - b.seq);
      for (const entry of entries) if (entry.key !== key) this.updateSignature(entry.key);
    }

    const state = this.apps.get(key)!;
    state.providerOffice = app.providerOffice;
    if (state.providerKey !== app.providerKey) {
      if (state.providerKey !== undefined) {
        this.removeFrom(this.providerGroups, state.providerKey, key);
        this.tracker.providerKeys.add(state.providerKey);
      }
      if (app.providerKey !== undefined) {
        this.addTo(this.providerGroups, app.providerKey, key);
        this.tracker.providerKeys.add(app.providerKey);
      }
      state.providerKey = app.providerKey;
      state.providerFamilyId = app.providerFamilyId;
      this.tracker.providerChanged.add(key);
    }
  }

  /** Links application `key` (already a node) to `link`: joins the link's component, or adds the link as a new node. */
  private link(key: string, link: string): void {
    const comp = this.nodeComp.get(key)!;
    const other = this.nodeComp.get(link);
    if (!other) {
      comp.nodes.add(link);
      this.nodeComp.set(link, comp);
    } else if (other !== comp) {
      this.union(comp, other);
    }
  }

  /** Merges two components small-into-large; the older id survives. */
  private union(a: Component, b: Component): Component {
    this.touch(a);
    this.touch(b);
    const [big, small] = a.nodes.size >= b.nodes.size ? [a, b] : [b, a];
    const survivor = this.older(big.id, small.id);
    for (const loser of [big, small]) {
      if (loser.id === undefined || loser.id === survivor) continue;
      for (const member of this.membersOf(loser)) this.track(member);
      this.tracker.absorbed.set(loser.id, survivor!);
      this.compById.delete(loser.id);
      this.allocated.delete(loser.id);
    }
    for (const key of small.nodes) {
      big.nodes.add(key);
      this.nodeComp.set(key, big);
    }
    big.memberCount += small.memberCount;
    small.nodes.clear();
    small.memberCount = 0;
    small.dead = true;
    big.id = survivor;
    if (survivor !== undefined) this.compById.set(survivor, big);
    return big;
  }

  /**
   * Re-traverses a component after links were removed. Orphaned priority nodes are dropped;
   * the part with most members keeps the component (and its id; tie: the oldest member);
   * the other parts become new, unnamed components, returned.
   */
  private splitComponent(comp: Component): Component[] {
    this.touch(comp);
    const visited = new Set<string>();
    const parts: { nodes: string[]; members: string[]; oldest: number }[] = [];
    for (const start of comp.nodes) {
      if (visited.has(start)) continue;
      visited.add(start);
      const part = { nodes: [start], members: [] as string[], oldest: Infinity };
      for (let i = 0; i < part.nodes.length; i++) {
        const key = part.nodes[i]!;
        const state = this.apps.get(key);
        if (state) {
          part.members.push(key);
          if (state.seq < part.oldest) part.oldest = state.seq;
        }
        const visit = (next: string) => {
          if (!visited.has(next) && this.nodeComp.get(next) === comp) {
            visited.add(next);
            part.nodes.push(next);
          }
        };
        if (state) for (const next of state.links) visit(next);
        for (const next of this.linkedFrom.get(key) ?? []) visit(next);
      }
      parts.push(part);
    }
    const split: Component[] = [];
    const populated = parts.filter((p) => p.members.length > 0);
    let heir = populated[0];
    for (const part of populated) {
      if (part.members.length > heir!.members.length || (part.members.length === heir!.members.length && part.oldest < heir!.oldest)) heir = part;
    }
    for (const part of parts) {
      if (part === heir) continue;
      for (const key of part.nodes) comp.nodes.delete(key);
      if (part.members.length === 0) {
        // A priority nobody claims any more.
        for (const key of part.nodes) {
          this.nodeComp.delete(key);
          this.linkedFrom.delete(key);
        }
        continue;
      }
      for (const member of part.members) this.track(member);
      comp.memberCount -= part.members.length;
      const piece: Component = { id: undefined, nodes: new Set(part.nodes), memberCount: part.members.length, dead: false };
      for (const key of part.nodes) this.nodeComp.set(key, piece);
      split.push(piece);
    }
    return split;
  }

  private updateSignature(key: string): void {
    const state = this.apps.get(key);
    if (!state) return;
    const signature = this.signatureFor(state);
    const sigKey = signature.join(SEP);
    if (state.simple && state.sigKey === sigKey) return;
    this.track(key);
    const old = state.simple;
    if (old) {
      old.members.delete(key);
      // Dissolved at the end of the batch if still empty, so a signature left and re-entered within one batch keeps its id.
      if (old.members.size === 0) this.tracker.emptied.add(old);
    }
    let family = this.simpleBySig.get(sigKey);
    if (!family) {
      family = { id: this.allocate('simple'), sigKey, signature, members: new Set() };
      this.tracker.created.add(family.id);
      this.simpleBySig.set(sigKey, family);
      this.simpleById.set(family.id, family);
    }
    family.members.add(key);
    state.sigKey = sigKey;
    state.simple = family;
  }

  /** signature(X): first(X), or claims(X) ∪ first(pct(X)) for a PCT national/regional phase entry. */
  private signatureFor(state: AppState): string[] {
    if (state.pct === undefined) return this.firstFilings(state.key);
    return sortedUnique([...state.claims, ...this.firstFilings(state.pct)]);
  }

  /** first(K): K's claims, or K itself when it claims nothing or is unknown. */
  private firstFilings(key: string): string[] {
    const claims = this.apps.get(key)?.claims;
    return claims && claims.length > 0 ? [...claims] : [key];
  }

  private oldestSeq(comp: Component): number {
    let oldest = Infinity;
    for (const key of comp.nodes) oldest = Math.min(oldest, this.apps.get(key)?.seq ?? Infinity);
    return oldest;
  }

  private membersOf(comp: Component): string[] {
    const members: string[] = [];
    for (const key of comp.nodes) if (this.apps.has(key)) members.push(key);
    return members;
  }

  private allocate(kind: FamilyKind): string {
    const id = this.newId();
    if (typeof id !== 'string' || id === '' || this.allocated.has(id)) throw new Error(`Family id allocator returned an unusable id: ${String(id)}`);
    this.allocated.set(id, { kind, seq: this.idSeq++ });
    return id;
  }

  private older(a: string | undefined, b: string | undefined): string | undefined {
    if (a === undefined) return b;
    if (b === undefined) return a;
    return this.allocated.get(a)!.seq <= this.allocated.get(b)!.seq ? a : b;
  }

  /** Records an application's family ids before they change (first time per change only). */
  private track(key: string): void {
    if (this.tracker.beforeSimple.has(key)) return;
    const state = this.apps.get(key);
    this.tracker.beforeSimple.set(key, state?.simple?.id ?? null);
    this.tracker.beforeExtended.set(key, state ? (this.nodeComp.get(key)?.id ?? null) : null);
  }

  /** Records a pre-existing extended family's size before it changes. */
  private touch(comp: Component): void {
    const id = comp.id;
    if (id === undefined || this.tracker.created.has(id) || this.tracker.sizeBefore.has(id)) return;
    this.tracker.sizeBefore.set(id, comp.memberCount);
  }

  /** Adds `value` to the list under `key`; callers add a value at most once. */
  private addTo(map: Map<string, string[]>, key: string, value: string): void {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  }

  private removeFrom(map: Map<string, string[]>, key: string, value: string): void {
    const list = map.get(key);
    const at = list ? list.indexOf(value) : -1;
    if (!list || at < 0) return;
    list[at] = list[list.length - 1]!;
    list.pop();
    if (list.length === 0) map.delete(key);
  }

  /** The net change since the tracker was reset. */
  private report(): FamilyChange {
    const t = this.tracker;
    const moved: ApplicationMove[] = [];
    const changed = { simple: new Set<string>(), extended: new Set<string>() };
    const addChanged = (kind: FamilyKind, id: string | null) => {
      if (id !== null && this.allocated.get(id)?.kind === kind) changed[kind].add(id);
    };
    /** Pre-existing extended id → the families its tracked members are in now, and how many were tracked. */
    const destinations = new Map<string, { into: Set<string>; tracked: number }>();
    const movedTo = new Map<string, Set<string>>();
    const providerKeys = new Set(t.providerKeys);
    for (const key of [...t.beforeSimple.keys()].sort()) {
      const state = this.apps.get(key)!;
      const simple = state.simple!.id;
      const extended = this.nodeComp.get(key)!.id!;
      const previousSimple = t.beforeSimple.get(key)!;
      const previousExtended = t.beforeExtended.get(key)!;
      if (previousExtended !== null && !t.created.has(previousExtended)) {
        let d = destinations.get(previousExtended);
        if (!d) destinations.set(previousExtended, (d = { into: new Set(), tracked: 0 }));
        d.into.add(extended);
        d.tracked++;
      }
      if (previousSimple !== null && previousSimple !== simple) {
        let m = movedTo.get(previousSimple);
        if (!m) movedTo.set(previousSimple, (m = new Set()));
        m.add(simple);
      }
      if (previousSimple === simple && previousExtended === extended) continue;
      moved.push({ key, simple, extended, previousSimple, previousExtended });
      if (state.providerKey !== undefined) providerKeys.add(state.providerKey);
      if (previousSimple !== simple) {
        addChanged('simple', simple);
        addChanged('simple', previousSimple);
      }
      if (previousExtended !== extended) {
        addChanged('extended', extended);
        addChanged('extended', previousExtended);
      }
    }

    const created: FamilyRef[] = [];
    for (const id of t.created) {
      const kind = this.allocated.get(id)?.kind;
      if (kind) created.push({ kind, id });
    }

    const resolve = (id: string): string => {
      let current = id;
      for (let next = t.absorbed.get(current); next !== undefined; next = t.absorbed.get(current)) current = next;
      return current;
    };
    const mergedInto = new Map<string, string[]>();
    for (const id of t.absorbed.keys()) {
      if (t.created.has(id)) continue;
      const into = resolve(id);
      const list = mergedInto.get(into);
      if (list) list.push(id);
      else mergedInto.set(into, [id]);
    }
    const merged = [...mergedInto.keys()].sort().map((into) => ({ into, absorbed: mergedInto.get(into)!.sort() }));

    const split: FamilyChange['split'] = [];
    for (const id of [...destinations.keys()].sort()) {
      const d = destinations.get(id)!;
      const untracked = (t.sizeBefore.get(id) ?? 0) - d.tracked;
      if (untracked > 0 && this.compById.has(id)) d.into.add(id);
      if (d.into.size >= 2) split.push({ id, into: [...d.into].sort() });
    }

    const dissolved: FamilyChange['dissolved'] = [];
    for (const id of [...movedTo.keys()].sort()) {
      if (!t.created.has(id) && !this.simpleById.has(id)) dissolved.push({ id, movedTo: [...movedTo.get(id)!].sort() });
    }

    const recheck = { simple: new Set(changed.simple), extended: new Set(changed.extended) };
    const recheckApp = (key: string) => {
      recheck.simple.add(this.apps.get(key)!.simple!.id);
      recheck.extended.add(this.nodeComp.get(key)!.id!);
    };
    for (const pk of providerKeys) for (const key of this.providerGroups.get(pk) ?? []) recheckApp(key);
    for (const key of t.providerChanged) recheckApp(key);
    return { created, merged, split, dissolved, changed: refs(changed), moved, recheckConflicts: refs(recheck) };
  }
}
