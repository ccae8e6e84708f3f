import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { entities } from '../../src/entities.js';
import { openDatabase, type Database } from '../../src/platform/database/database.js';

/**
 * Migration 0010 moves the family columns of `application` to `application_family` on a hub that already holds
 * applications: indexed ones keep their families, unindexed ones stay unindexed, the old columns are gone.
 */
let pglite: PGlite;
let database: Database;
beforeAll(async () => {
  pglite = new PGlite();
  database = await openDatabase({ config: { driver: 'pglite', dataDir: '' }, entities, pglite });
  await database.orm.getMigrator().up({ to: '0009-family-fillfactor' });
}, 60_000);
afterAll(async () => {
  await database?.close();
  await pglite?.close();
});

it('keeps the families of the applications a hub already holds when it moves them to application_family', async () => {
  const sql = (text: string, params: unknown[] = []) => database.fork().getConnection().execute<Record<string, unknown>[]>(text, params);
  await sql(`insert into office (code, name, created_at, updated_at) values ('US', 'United States', now(), now())`);
  const [simple, extended] = [randomUUID(), randomUUID()];
  for (const [id, kind, seq] of [[simple, 'simple', 1], [extended, 'extended', 2]] as const) {
    await sql(`insert into family (id, kind, seq, status, member_count, has_conflict, created_at, updated_at) values (?, ?, ?, 'live', 2, false, now(), now())`, [id, kind, seq]);
  }
  const application = (number: string, families: { seq: number; priorities: string[]; pct: string | null; provider: string | null } | null) => ({
    id: randomUUID(),
    number,
    families,
  });
  const rows = [
    application('16000001', { seq: 1, priorities: [], pct: null, provider: 'F1' }),
    application('16000002', { seq: 2, priorities: ['US:16000001'], pct: 'WO:US2016000001', provider: null }),
    application('16000003', null),
  ];
  for (const row of rows) {
    await sql(
      `insert into application (id, office_code, application_number, application_number_raw, display_number, filing_date, titles, applicants, inventors, created_at, updated_at,
         simple_family_id, extended_family_id, family_seq, family_priorities, family_pct_key, family_provider_id)
       values (?, 'US', ?, ?, ?, '2016-01-01', '[]', '[]', '[]', now(), now(), ?, ?, ?, ?, ?, ?)`,
      [
        row.id,
        row.number,
        row.number,
        row.number,
        row.families ? simple : null,
        row.families ? extended : null,
        row.families?.seq ?? null,
        row.families ? `{${row.families.priorities.join(',')}}` : null,
        row.families?.pct ?? null,
        row.families?.provider ?? null,
      ],
    );
  }

  expect(await database.migrate()).toEqual(['0010-application-family']);

  const moved = await sql(
    `select a.application_number, f.simple_family_id, f.extended_family_id, f.family_seq, f.family_priorities, f.family_pct_key, f.family_provider_id
     from application a left join application_family f on f.application_id = a.id order by a.application_number`,
  );
  expect(moved.map((row) => ({ ...row, family_seq: row.family_seq === null ? null : Number(row.family_seq) }))).toEqual([
    { application_number: '16000001', simple_family_id: simple, extended_family_id: extended, family_seq: 1, family_priorities: [], family_pct_key: null, family_provider_id: 'F1' },
    {
      application_number: '16000002',
      simple_family_id: simple,
      extended_family_id: extended,
      family_seq: 2,
      family_priorities: ['US:16000001'],
      family_pct_key: 'WO:US2016000001',
      family_provider_id: null,
    },
    { application_number: '16000003', simple_family_id: null, extended_family_id: null, family_seq: null, family_priorities: null, family_pct_key: null, family_provider_id: null },
  ]);
  const columns = await sql(`select column_name from information_schema.columns where table_name = 'application' and column_name like '%family%' order by 1`);
  expect(columns.map((row) => row.column_name)).toEqual(['provider_family_id']);
  // The rows go with their application.
  await sql(`delete from application where application_number = '16000001'`);
  expect(await sql('select application_id from application_family')).toEqual([{ application_id: rows[1]!.id }]);
});
