/**
 * The family index against the database (docs/families.md, "Running against PostgreSQL"): every bibliographic write
 * (a PUT, an ingest batch) keeps families current in its own transaction, touching only the extended families it
 * affects. The writer first writes its application rows (bibliographic columns, priority claims, publications), then:
 *
 * 1. take the family lock (`pg_advisory_xact_lock`: one family writer at a time, so two batches linking the same
 *    families cannot race; PGlite has one connection anyway);
 * 2. find the extended families the batch touches — those of the applications named by any key of the batch (its
 *    applications, their priorities, their PCT applications), of the applications claiming any of those keys as a
 *    priority, and of the national phase entries of any of them — and load all their members' stored records;
 * 3. `FamilyIndex.hydrate` them, `upsertMany(batch)`;
 * 4. write the change back set-based: new `family` rows, absorbed and dissolved ones (redirects kept one hop long),
 *    member counts, the `application_family` rows of the batch and of every application that moved, and
 *    `has_conflict` of every family whose provider-id comparison may have changed.
 *
 * The stored form of the index is `application_family` (one row per indexed application: `simple_family_id`,
 * `extended_family_id`, `family_seq`, and the record as the index last applied it, `family_priorities`,
 * `family_pct_key`, `family_provider_id`) and the `family` table (kind, allocation `seq`). Every writer takes its
 * row locks on `application` before the family lock (FOR NO KEY UPDATE, never FOR UPDATE) and under the lock writes
 * only these two tables: the costly application rows are written outside the lock, and a writer holding it never
 * waits for a writer waiting for it. An application found with no families yet (written by a path that did not
 * maintain them) is indexed on the spot from its bibliographic record; its new row's key check (FOR KEY SHARE on
 * the application) does not wait for another writer's FOR NO KEY UPDATE of that application.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { rawQuery } from '../../platform/database/raw-query.js';
import { uuidv7 } from '../../platform/ids.js';
import { FamilyIndex, type FamilyApplication, type FamilyChange, type FamilyConflict, type FamilyKind, type StoredApplication, type StoredFamily } from './family-index.js';

/** The key of an application or priority in the index: `office:number` (normal form). */
export const familyKey = (officeCode: string, number: string): string => `${officeCode}:${number}`;
/** The key of an international application, from its WO number in normal form. */
export const pctKeyOf = (number: string): string => familyKey('WO', number);

/** Splits a key into office and number (keys are `XX:number`, the office always two letters). */
export function splitKey(key: string): { officeCode: string; number: string } {
  return { officeCode: key.slice(0, 2), number: key.slice(3) };
}

/** One application's input to family maintenance, from its bibliographic record. */
export interface FamilyRecord {
  officeCode: string;
  applicationNumber: string;
  /** Priority keys (`office:number`, numbers as stored on the priority claims). */
  priorities: readonly string[];
  /** The international application's WO number (normal form) for a PCT national/regional phase entry. */
  pctApplicationNumber: string | null;
  providerFamilyId: string | null;
}

/** Arbitrary but fixed: the advisory lock every family writer takes. */
const FAMILY_LOCK_CLASS = 0x4458; // 'DX'
const FAMILY_LOCK_ID = 1;

/**
 * Pins the join method of the rest of the transaction's statements to nested loops over indexes. Family maintenance
 * and the bulk ingest join a batch of keys (one to a few thousand) against tables of millions of rows; the planner
 * estimates every `jsonb_to_recordset` at 100 rows and, on tables growing fast (a bulk ingest into a fresh
 * database), works from statistics far behind, and then picks hash joins over sequential scans: a cost that grows
 * with the table, per batch. The settings end with the transaction.
 */
const PIN_INDEX_JOINS_SQL = `set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`;

/** Pins the transaction's joins to nested loops over indexes (PIN_INDEX_JOINS_SQL), for a writer's statements before the family lock. */
export async function pinIndexJoins(em: EntityManager): Promise<void> {
  await rawQuery(em, `select ${PIN_INDEX_JOINS_SQL}`);
}

/** Takes the family lock for the rest of the transaction (re-entrant inside one transaction), and pins its joins (PIN_INDEX_JOINS_SQL). */
async function lockFamilies(em: EntityManager): Promise<void> {
  // set_config(…, true) is SET LOCAL; one round trip for the three.
  await rawQuery(em, `select pg_advisory_xact_lock(${FAMILY_LOCK_CLASS}, ${FAMILY_LOCK_ID}), ${PIN_INDEX_JOINS_SQL}`);
}

const json = (value: unknown): string => JSON.stringify(value);

interface KeyRow {
  id: string;
  office_code: string;
  application_number: string;
  extended_family_id: string | null;
}

interface MemberRow {
  id: string;
  office_code: string;
  application_number: string;
  family_priorities: string[] | null;
  family_pct_key: string | null;
  family_provider_id: string | null;
  simple_family_id: string;
  extended_family_id: string;
  family_seq: string | number;
}

/** An application's families and record after a batch. */
interface AssignedFamilies {
  simpleFamilyId: string;
  extendedFamilyId: string;
  familySeq: number;
  record: FamilyApplication;
  /** Its `application_family` row holds exactly this already (and is left alone). */
  stored: boolean;
}

/** What a batch does to the families, computed under the family lock after the batch's application rows are written. */
interface FamilyPlan {
  /** The families of every application of the batch (and of any application indexed on the spot), after the batch. */
  assigned: Map<string, AssignedFamilies>;
  /** Application ids by key: of the batch, of the applications indexed on the spot, and of every loaded member. */
  idOf: Map<string, string>;
  change: FamilyChange;
  /** Provider keys (`office\u0000id`) whose holders' families must have their conflicts rechecked. */
  providerKeys: Map<string, { officeCode: string; providerFamilyId: string }>;
  /**
   * Families whose `has_conflict` must be recomputed, with their members' provider ids: those the change may have
   * affected (FamilyChange.recheckConflicts) that hold an application with a provider family id, or are flagged now
   * (a conflict needs such an application). All their members are in the loaded part.
   */
  recheck: Map<string, { kind: FamilyKind; flagged: boolean; carried: { officeCode: string; providerFamilyId: string }[] }>;
  /** Member counts and signatures of the families the change created or changed. */
  families: Map<string, { kind: FamilyKind; memberCount: number; signature: string[] | null }>;
  /** Allocation order of the created families. */
  createdSeq: Map<string, number>;
}

/** The index's input for a record. */
export function familyApplicationOf(record: FamilyRecord): FamilyApplication {
  return {
    key: familyKey(record.officeCode, record.applicationNumber),
    priorities: record.priorities,
    ...(record.pctApplicationNumber !== null ? { pctApplication: pctKeyOf(record.pctApplicationNumber) } : {}),
    ...(record.providerFamilyId !== null ? { providerFamilyId: record.providerFamilyId } : {}),
    providerOffice: record.officeCode,
  };
}

/** Rows of (office, number) pairs for `jsonb_to_recordset(?::jsonb) as k(o text, n text)`. */
const keyPairs = (keys: Iterable<string>): string => json([...keys].map((key) => ({ o: key.slice(0, 2), n: key.slice(3) })));

/**
 * The applications named by the keys, claiming one of them as a priority, or entering the national phase of one
 * (stored PCT keys are always `WO:…`, so only WO keys are looked up there: a few hundred probes instead of thousands).
 */
async function touchedBy(em: EntityManager, keys: Iterable<string>): Promise<KeyRow[]> {
  return rawQuery<KeyRow>(
    em,
    `with k as (select o, n from jsonb_to_recordset(?::jsonb) as k(o text, n text))
     select a.id, a.office_code, a.application_number, f.extended_family_id
       from application a join k on a.office_code = k.o and a.application_number = k.n left join application_family f on f.application_id = a.id
     union
     select a.id, a.office_code, a.application_number, f.extended_family_id
       from priority_claim p join k on p.office_code = k.o and p.number = k.n join application a on a.id = p.application_id left join application_family f on f.application_id = a.id
     union
     select a.id, a.office_code, a.application_number, f.extended_family_id
       from application_family f join application a on a.id = f.application_id where f.family_pct_key in (select o || ':' || n from k where o = 'WO')`,
    [keyPairs(keys)],
  );
}

/**
 * Computes what the batch does to the families: locks, loads the touched families, hydrates and applies the batch.
 * Nothing is written. The batch's application rows must be written already (in this transaction). Records of one key
 * later in the batch replace earlier ones.
 */
async function planFamilies(em: EntityManager, records: readonly FamilyRecord[]): Promise<FamilyPlan> {
  await lockFamilies(em);
  const batch = records.map(familyApplicationOf);
  const batchKeys = new Set(batch.map((app) => app.key));
  const idOf = new Map<string, string>();
  const familyIds = new Set<string>();
  // Applications without families yet (written without maintenance) are indexed first, from their bibliographic
  // record; their links may reach further families, hence the loop.
  const healing: FamilyApplication[] = [];
  const searched = new Set<string>();
  for (let pending: readonly FamilyApplication[] = batch; pending.length > 0; ) {
    const keys = new Set<string>();
    for (const app of pending) {
      for (const key of [app.key, ...app.priorities, ...(app.pctApplication !== undefined ? [app.pctApplication] : [])]) {
        if (!searched.has(key)) keys.add(key);
        searched.add(key);
      }
    }
    if (keys.size === 0) break;
    const unindexed: string[] = [];
    for (const row of await touchedBy(em, keys)) {
      const key = familyKey(row.office_code, row.application_number);
      if (row.extended_family_id !== null) familyIds.add(row.extended_family_id);
      if (batchKeys.has(key) || row.extended_family_id === null) {
        if (!idOf.has(key) && row.extended_family_id === null && !batchKeys.has(key)) unindexed.push(row.id);
        idOf.set(key, row.id);
      }
    }
    pending = unindexed.length === 0 ? [] : (await recordsOf(em, unindexed)).map(familyApplicationOf);
    healing.push(...pending);
  }

  const members =
    familyIds.size === 0
      ? []
      : await rawQuery<MemberRow>(
          em,
          `select a.id, a.office_code, a.application_number, f.family_priorities, f.family_pct_key, f.family_provider_id, f.simple_family_id, f.extended_family_id, f.family_seq
           from application_family f join application a on a.id = f.application_id
           where f.extended_family_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`,
          [json([...familyIds])],
        );
  const storedIds = new Set<string>(familyIds);
  for (const member of members) storedIds.add(member.simple_family_id);
  const storedFamilies =
    storedIds.size === 0
      ? []
      : await rawQuery<{ id: string; kind: FamilyKind; seq: string | number; has_conflict: boolean }>(
          em,
          'select id, kind, seq, has_conflict from family where id in (select value::uuid from jsonb_array_elements_text(?::jsonb))',
          [json([...storedIds])],
        );

  const stored: StoredApplication[] = members.map((row) => ({
    key: familyKey(row.office_code, row.application_number),
    priorities: row.family_priorities ?? [],
    ...(row.family_pct_key !== null ? { pctApplication: row.family_pct_key } : {}),
    ...(row.family_provider_id !== null ? { providerFamilyId: row.family_provider_id } : {}),
    providerOffice: row.office_code,
    simpleFamilyId: row.simple_family_id,
    extendedFamilyId: row.extended_family_id,
    seq: Number(row.family_seq),
  }));
  const loaded = new Map<string, StoredApplication>(stored.map((app) => [app.key, app]));
  for (const row of members) idOf.set(familyKey(row.office_code, row.application_number), row.id);
  for (const key of batchKeys) if (!idOf.has(key)) throw new Error(`planFamilies: application ${key} must be written before its families are planned`);
  const index = FamilyIndex.hydrate(
    stored,
    storedFamilies.map((row): StoredFamily => ({ id: row.id, kind: row.kind, seq: Number(row.seq) })),
    { newId: uuidv7 },
  );

  const applied = [...healing, ...batch];

  // Previous provider keys of the batch's applications: their holders may have lost a conflict.
  const providerKeys = new Map<string, { officeCode: string; providerFamilyId: string }>();
  const addProviderKey = (officeCode: string, providerFamilyId: string | undefined) => {
    if (providerFamilyId !== undefined) providerKeys.set(`${officeCode}\u0000${providerFamilyId}`, { officeCode, providerFamilyId });
  };
  const latest = new Map<string, FamilyApplication>();
  for (const app of applied) latest.set(app.key, app);
  for (const app of latest.values()) {
    const before = loaded.get(app.key);
    if (before?.providerFamilyId !== app.providerFamilyId) {
      addProviderKey(app.providerOffice, before?.providerFamilyId);
      addProviderKey(app.providerOffice, app.providerFamilyId);
    }
  }

  const change = index.upsertMany(applied);
  for (const move of change.moved) {
    const app = latest.get(move.key) ?? loaded.get(move.key);
    if (app) addProviderKey(app.providerOffice, app.providerFamilyId);
  }

  // Ages of newly indexed applications and allocation order of new families: after everything stored, in batch order.
  const [maxima] = await rawQuery<{ app_seq: string | number | null; family_seq: string | number | null }>(
    em,
    'select (select max(family_seq) from application_family) as app_seq, (select max(seq) from family) as family_seq',
  );
  let nextAppSeq = Number(maxima?.app_seq ?? 0) + 1;
  let nextFamilySeq = Number(maxima?.family_seq ?? 0) + 1;
  const assigned: FamilyPlan['assigned'] = new Map();
  for (const app of applied) {
    if (assigned.has(app.key)) continue;
    const seq = loaded.get(app.key)?.seq ?? nextAppSeq++;
    assigned.set(app.key, { simpleFamilyId: '', extendedFamilyId: '', familySeq: seq, record: app, stored: false });
  }
  for (const [key, entry] of assigned) {
    entry.simpleFamilyId = index.simpleFamilyOf(key)!;
    entry.extendedFamilyId = index.extendedFamilyOf(key)!;
    entry.record = latest.get(key)!;
    const before = loaded.get(key);
    entry.stored = before !== undefined && sameStoredFamilies(before, entry);
  }
  const createdSeq = new Map<string, number>();
  for (const ref of change.created) createdSeq.set(ref.id, nextFamilySeq++);
  const flagged = new Set(storedFamilies.filter((row) => row.has_conflict).map((row) => row.id));
  const recheck: FamilyPlan['recheck'] = new Map();
  for (const ref of change.recheckConflicts) {
    const members = ref.kind === 'simple' ? index.membersOfSimple(ref.id) : index.membersOfExtended(ref.id);
    const carried: { officeCode: string; providerFamilyId: string }[] = [];
    for (const key of members ?? []) {
      const app = latest.get(key) ?? loaded.get(key);
      if (app?.providerFamilyId !== undefined) carried.push({ officeCode: app.providerOffice, providerFamilyId: app.providerFamilyId });
    }
    if (members !== undefined && (carried.length > 0 || flagged.has(ref.id))) recheck.set(ref.id, { kind: ref.kind, flagged: flagged.has(ref.id), carried });
  }
  const families: FamilyPlan['families'] = new Map();
  for (const ref of [...change.created, ...change.changed]) {
    if (families.has(ref.id)) continue;
    const members = ref.kind === 'simple' ? index.membersOfSimple(ref.id) : index.membersOfExtended(ref.id);
    if (members === undefined) continue;
    families.set(ref.id, { kind: ref.kind, memberCount: members.length, signature: ref.kind === 'simple' ? (index.signatureOf(ref.id) ?? null) : null });
  }
  return { assigned, idOf, change, providerKeys, recheck, families, createdSeq };
}

/** Whether an application's stored families and record are those a plan assigns it (then its row is left alone). */
function sameStoredFamilies(before: StoredApplication, after: AssignedFamilies): boolean {
  const record = after.record;
  return (
    before.simpleFamilyId === after.simpleFamilyId &&
    before.extendedFamilyId === after.extendedFamilyId &&
    before.seq === after.familySeq &&
    before.pctApplication === record.pctApplication &&
    before.providerFamilyId === record.providerFamilyId &&
    before.priorities.length === record.priorities.length &&
    before.priorities.every((key, position) => record.priorities[position] === key)
  );
}

/** The bibliographic records of applications (by id; all of them for null), as family maintenance reads them. */
export async function recordsOf(em: EntityManager, ids: readonly string[] | null): Promise<FamilyRecord[]> {
  type Row = { office_code: string; application_number: string; pct_application_number: string | null; provider_family_id: string | null; priorities: string[] | null };
  const rows =
    ids === null
      ? await rawQuery<Row>(
          em,
          `select a.office_code, a.application_number, a.pct_application_number, a.provider_family_id, p.priorities
           from application a left join (
             select application_id, array_agg(office_code || ':' || number order by position) as priorities from priority_claim group by application_id
           ) p on p.application_id = a.id left join application_family f on f.application_id = a.id
           order by f.family_seq nulls last, a.id`,
        )
      : await rawQuery<Row>(
          em,
          `select a.office_code, a.application_number, a.pct_application_number, a.provider_family_id,
             (select array_agg(p.office_code || ':' || p.number order by p.position) from priority_claim p where p.application_id = a.id) as priorities
           from application a left join application_family f on f.application_id = a.id
           where a.id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
           order by f.family_seq nulls last, a.id`,
          [json(ids)],
        );
  return rows.map((row) => ({
    officeCode: row.office_code,
    applicationNumber: row.application_number,
    priorities: row.priorities ?? [],
    pctApplicationNumber: row.pct_application_number,
    providerFamilyId: row.provider_family_id,
  }));
}

/** Writes a plan: families created, ended and counted, the `application_family` rows that changed, conflict flags. */
async function writeFamilies(em: EntityManager, plan: FamilyPlan): Promise<void> {
  const { change } = plan;
  if (change.created.length > 0) {
    const rows = change.created.map((ref) => {
      const family = plan.families.get(ref.id);
      return { id: ref.id, kind: ref.kind, seq: plan.createdSeq.get(ref.id), signature: family?.signature ?? null, member_count: family?.memberCount ?? 0 };
    });
    await rawQuery(
      em,
      `insert into family (id, kind, seq, signature, status, member_count, has_conflict, created_at, updated_at)
       select id, kind, seq, signature, 'live', member_count, false, now(), now()
       from jsonb_to_recordset(?::jsonb) as x(id uuid, kind text, seq bigint, signature text[], member_count int)`,
      [json(rows)],
    );
  }
  // Ended families: absorbed ones redirect to the survivor; dissolved ones to the one family their members went to.
  const ended: { id: string; status: 'absorbed' | 'dissolved'; redirect_to: string | null }[] = [
    ...change.merged.flatMap(({ into, absorbed }) => absorbed.map((id) => ({ id, status: 'absorbed' as const, redirect_to: into }))),
    ...change.dissolved.map(({ id, movedTo }) => ({ id, status: 'dissolved' as const, redirect_to: movedTo.length === 1 ? movedTo[0]! : null })),
  ];
  if (ended.length > 0) {
    await rawQuery(
      em,
      `with x as (select * from jsonb_to_recordset(?::jsonb) as x(id uuid, status text, redirect_to uuid)),
       ended as (update family f set status = x.status, redirect_to = x.redirect_to, member_count = 0, ended_at = now(), updated_at = now() from x where f.id = x.id returning f.id)
       update family f set redirect_to = x.redirect_to, updated_at = now() from x where f.redirect_to = x.id`,
      [json(ended)],
    );
  }
  const counts = [...plan.families].filter(([id]) => !plan.createdSeq.has(id)).map(([id, family]) => ({ id, member_count: family.memberCount }));
  if (counts.length > 0) {
    await rawQuery(
      em,
      `update family f set member_count = x.member_count, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as x(id uuid, member_count int) where f.id = x.id and f.status = 'live'`,
      [json(counts)],
    );
  }

  // Applications: the batch's (and healed) rows get their families and stored record; others that moved, their families.
  const own = [...plan.assigned].filter(([, entry]) => !entry.stored);
  if (own.length > 0) {
    await rawQuery(
      em,
      `insert into application_family (application_id, simple_family_id, extended_family_id, family_seq, family_priorities, family_pct_key, family_provider_id)
       select x.id, x.s, x.e, x.q, x.p, x.w, x.f from jsonb_to_recordset(?::jsonb) as x(id uuid, s uuid, e uuid, q bigint, p text[], w text, f text)
       on conflict (application_id) do update set simple_family_id = excluded.simple_family_id, extended_family_id = excluded.extended_family_id,
         family_seq = excluded.family_seq, family_priorities = excluded.family_priorities, family_pct_key = excluded.family_pct_key, family_provider_id = excluded.family_provider_id`,
      [json(own.map(([key, entry]) => ({ id: idOfKey(plan, key), s: entry.simpleFamilyId, e: entry.extendedFamilyId, q: entry.familySeq, ...storedRecord(entry.record) })))],
    );
  }
  const others = change.moved.filter((move) => !plan.assigned.has(move.key));
  if (others.length > 0) {
    await rawQuery(
      em,
      `update application_family f set simple_family_id = x.s, extended_family_id = x.e
       from jsonb_to_recordset(?::jsonb) as x(id uuid, s uuid, e uuid) where f.application_id = x.id`,
      [json(others.map((move) => ({ id: idOfKey(plan, move.key), s: move.simple, e: move.extended })))],
    );
  }
  await recheckConflicts(em, plan);
}

function idOfKey(plan: FamilyPlan, key: string): string {
  const id = plan.idOf.get(key);
  if (id === undefined) throw new Error(`writeFamilies: no application id for ${key}`);
  return id;
}

/** The stored record columns of an application (`family_priorities`, `family_pct_key`, `family_provider_id`). */
export function storedRecord(record: FamilyApplication): { p: string[]; w: string | null; f: string | null } {
  return { p: [...record.priorities], w: record.pctApplication ?? null, f: record.providerFamilyId ?? null };
}

/** One family's provider-id conflicts, in SQL: several ids of one office inside it, or one of its ids carried outside it. */
const CONFLICT_SQL = (column: 'simple_family_id' | 'extended_family_id') => `(
  exists (select 1 from application_family af join application a on a.id = af.application_id
          where af.${column} = f.id and a.provider_family_id is not null group by a.office_code having count(distinct a.provider_family_id) > 1)
  or exists (select 1 from application_family af join application a on a.id = af.application_id
             join application b on b.office_code = a.office_code and b.provider_family_id = a.provider_family_id join application_family bf on bf.application_id = b.id
             where af.${column} = f.id and a.provider_family_id is not null and bf.${column} <> f.id))`;

/**
 * Recomputes `has_conflict` (after the batch's rows are written): in memory for the families the batch touched (all
 * their members are loaded) from the holders of their provider ids, which one indexed query finds; with CONFLICT_SQL
 * for the families outside the loaded part that hold a provider id the batch gave or took away.
 */
async function recheckConflicts(em: EntityManager, plan: FamilyPlan): Promise<void> {
  const providerKey = (officeCode: string, providerFamilyId: string) => `${officeCode}\u0000${providerFamilyId}`;
  const keys = new Map(plan.providerKeys);
  for (const family of plan.recheck.values()) for (const carried of family.carried) keys.set(providerKey(carried.officeCode, carried.providerFamilyId), carried);
  const holders =
    keys.size === 0
      ? []
      : await rawQuery<{ office_code: string; provider_family_id: string; simple_family_id: string; extended_family_id: string }>(
          em,
          `select a.office_code, a.provider_family_id, f.simple_family_id, f.extended_family_id
           from jsonb_to_recordset(?::jsonb) as k(o text, p text) join application a on a.office_code = k.o and a.provider_family_id = k.p
           join application_family f on f.application_id = a.id`,
          [json([...keys.values()].map(({ officeCode, providerFamilyId }) => ({ o: officeCode, p: providerFamilyId })))],
        );
  /** provider key → the families (of each kind) holding it. */
  const holding = new Map<string, { simple: Set<string>; extended: Set<string> }>();
  for (const row of holders) {
    const key = providerKey(row.office_code, row.provider_family_id);
    let families = holding.get(key);
    if (!families) holding.set(key, (families = { simple: new Set(), extended: new Set() }));
    families.simple.add(row.simple_family_id);
    families.extended.add(row.extended_family_id);
  }

  const changed: { id: string; conflict: boolean }[] = [];
  for (const [id, family] of plan.recheck) {
    const idsByOffice = new Map<string, Set<string>>();
    let conflict = false;
    for (const { officeCode, providerFamilyId } of family.carried) {
      const ids = idsByOffice.get(officeCode) ?? new Set<string>();
      ids.add(providerFamilyId);
      idsByOffice.set(officeCode, ids);
      // several-provider-ids: two ids of one office in this family; provider-id-spread: this id held in another family too.
      const spread = holding.get(providerKey(officeCode, providerFamilyId))?.[family.kind];
      if (ids.size > 1 || (spread !== undefined && [...spread].some((other) => other !== id))) conflict = true;
    }
    if (conflict !== family.flagged) changed.push({ id, conflict });
  }
  if (changed.length > 0) {
    await rawQuery(
      em,
      `update family f set has_conflict = x.conflict, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as x(id uuid, conflict boolean) where f.id = x.id`,
      [json(changed)],
    );
  }

  // Families outside the loaded part holding a provider id the batch gave or took away: their conflicts may have changed too.
  const outside = new Set<string>();
  for (const key of plan.providerKeys.keys()) {
    for (const id of [...(holding.get(key)?.simple ?? []), ...(holding.get(key)?.extended ?? [])]) if (!plan.recheck.has(id) && !plan.families.has(id)) outside.add(id);
  }
  if (outside.size === 0) return;
  await rawQuery(
    em,
    `update family f set has_conflict = c.conflict, updated_at = now() from (
       select f.id, case when f.kind = 'simple' then ${CONFLICT_SQL('simple_family_id')} else ${CONFLICT_SQL('extended_family_id')} end as conflict
       from family f where f.id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) and f.status = 'live'
     ) c where f.id = c.id and f.has_conflict <> c.conflict`,
    [json([...outside])],
  );
}

/**
 * Keeps families current after the given applications' bibliographic rows were written (in the caller's
 * transaction). Returns the change. Call it for every write of priority claims, PCT link or provider family id.
 */
export async function maintainFamilies(em: EntityManager, records: readonly FamilyRecord[]): Promise<FamilyChange> {
  const plan = await planFamilies(em, records);
  await writeFamilies(em, plan);
  return plan.change;
}

/** The family ids of an application (null until it is indexed, which its bibliographic write does). */
export async function familyIdsOf(em: EntityManager, applicationId: string): Promise<{ simpleFamilyId: string | null; extendedFamilyId: string | null }> {
  const [row] = await rawQuery<{ simple_family_id: string | null; extended_family_id: string | null }>(
    em,
    'select simple_family_id, extended_family_id from application_family where application_id = ?',
    [applicationId],
  );
  return { simpleFamilyId: row?.simple_family_id ?? null, extendedFamilyId: row?.extended_family_id ?? null };
}

/** Everything the database holds about families, as the index's stored form (for consistency checks and tests). */
export async function loadStoredFamilies(em: EntityManager): Promise<{
  applications: StoredApplication[];
  families: (StoredFamily & { status: string; redirectTo: string | null; memberCount: number; hasConflict: boolean; signature: string[] | null })[];
}> {
  const members = await rawQuery<MemberRow>(
    em,
    `select a.id, a.office_code, a.application_number, f.family_priorities, f.family_pct_key, f.family_provider_id, f.simple_family_id, f.extended_family_id, f.family_seq
     from application_family f join application a on a.id = f.application_id order by f.family_seq`,
  );
  const families = await rawQuery<{ id: string; kind: FamilyKind; seq: string | number; status: string; redirect_to: string | null; member_count: number; has_conflict: boolean; signature: string[] | null }>(
    em,
    'select id, kind, seq, status, redirect_to, member_count, has_conflict, signature from family order by seq',
  );
  return {
    applications: members.map((row) => ({
      key: familyKey(row.office_code, row.application_number),
      priorities: row.family_priorities ?? [],
      ...(row.family_pct_key !== null ? { pctApplication: row.family_pct_key } : {}),
      ...(row.family_provider_id !== null ? { providerFamilyId: row.family_provider_id } : {}),
      providerOffice: row.office_code,
      simpleFamilyId: row.simple_family_id,
      extendedFamilyId: row.extended_family_id,
      seq: Number(row.family_seq),
    })),
    families: families.map((row) => ({
      id: row.id,
      kind: row.kind,
      seq: Number(row.seq),
      status: row.status,
      redirectTo: row.redirect_to,
      memberCount: Number(row.member_count),
      hasConflict: row.has_conflict,
      signature: row.signature,
    })),
  };
}

/**
 * The families recomputed from scratch from the bibliographic records the database holds (priority claims, PCT
 * links, provider family ids), in memory: the reference the incrementally maintained families must equal, and the
 * cost of a full recomputation (the benchmark).
 */
export async function recomputeFamilies(em: EntityManager): Promise<{ index: FamilyIndex; loadMs: number; computeMs: number }> {
  const started = performance.now();
  const records = await recordsOf(em, null);
  const loaded = performance.now();
  const index = FamilyIndex.recompute(records.map(familyApplicationOf), { newId: uuidv7 });
  return { index, loadMs: loaded - started, computeMs: performance.now() - loaded };
}

export type { FamilyConflict };
