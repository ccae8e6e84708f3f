/**
 * The browse benchmark's dataset in PostgreSQL: offices, applications (with a publication each) and their documents,
 * loaded with COPY FROM STDIN (pg-copy-streams), secondary indexes and constraints dropped during the load and
 * rebuilt after it. Numbers are generated in each office's usual spelling and normalised with the hub's own
 * normalizeNumber, so every row is what a deposit would have stored. A marker table records the counts, so a
 * benchmark reuses a dataset that is already there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { entities } from '../../src/entities.js';
import { normalizeNumber } from '../../src/dossier/numbers/normalize.js';
import { openDatabase } from '../../src/platform/database/database.js';
import { uuidv7 } from '../../src/platform/ids.js';

export interface DatasetOptions {
  /** postgres://… of a server the benchmark may create a database on. */
  adminUrl: string;
  database: string;
  applications: number;
  documentsPerApplication: number;
  /** Drop and reload even when a dataset of these counts is there. */
  fresh?: boolean;
  log?: (message: string) => void;
}

export interface Dataset {
  url: string;
  applications: number;
  documents: number;
  /** Seconds the load took (0 when an existing dataset was reused). */
  loadSeconds: number;
}

/** The offices of the dataset: three providers share the applications; JP is the reading office of the benchmark. */
export const PROVIDERS = ['US', 'EP', 'KR'] as const;
export const READER_OFFICE = 'JP';
const CODES = ['searchReport', 'writtenOpinion', 'examinationReport', 'officeAction', 'claims', 'description', 'amendments', 'applicantReply', 'allowance', 'grant'];
const DIRECTIONS = ['outgoing', 'outgoing', 'incoming', 'incoming', 'incoming', 'incoming', 'incoming', 'incoming', 'outgoing', 'outgoing'];
const WORDS = ['gear', 'sprocket', 'battery', 'antenna', 'valve', 'sensor', 'lens', 'polymer', 'turbine', 'circuit', 'catalyst', 'bearing', 'display', 'codec', 'rotor', 'membrane'];
const APPLICANTS = ['Acme Corp.', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries', 'Wayne Enterprises', 'Tyrell', 'Cyberdyne', 'Soylent'];

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.href;
}

/** The application of serial `i`: its office and its number and first publication, as the office writes them. */
export function applicationSpelling(i: number): { office: (typeof PROVIDERS)[number]; application: string; publication: string } {
  const office = PROVIDERS[i % PROVIDERS.length] ?? 'US';
  const serial = Math.floor(i / PROVIDERS.length);
  const year = 2005 + (serial % 19);
  switch (office) {
    case 'US': {
      const digits = String(serial % 1_000_000).padStart(6, '0');
      const series = 10 + Math.floor(serial / 1_000_000);
      return { office, application: `US ${series}/${digits.slice(0, 3)},${digits.slice(3)}`, publication: `US ${year}/${String(serial).padStart(7, '0')} A1` };
    }
    case 'EP':
      return { office, application: `EP ${String(10_000_000 + serial)}`, publication: `EP ${String(1_000_000 + serial)} A1` };
    case 'KR':
      return { office, application: `KR 10-${year}-${String(serial).padStart(7, '0')}`, publication: `KR 10-${year + 1}-${String(serial).padStart(7, '0')} A` };
  }
}

/** COPY text format: tab-separated, `\N` for null, backslash and control characters escaped. */
function field(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  return value.replace(/[\\\t\n\r]/g, (char) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[char] ?? char);
}
const row = (values: (string | number | boolean | null)[]): string => `${values.map(field).join('\t')}\n`;

/** Lines from a generator, in chunks of about 1 MB, as a stream for COPY. */
function lines(generate: () => Generator<string>): Readable {
  const source = generate();
  return new Readable({
    read() {
      let chunk = '';
      for (;;) {
        const next = source.next();
        if (next.done) {
          if (chunk !== '') this.push(chunk);
          this.push(null);
          return;
        }
        chunk += next.value;
        if (chunk.length > 1 << 20) {
          this.push(chunk);
          return;
        }
      }
    },
  });
}

async function copy(client: pg.Client, table: string, columns: string[], source: Readable): Promise<void> {
  const statement = `copy "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) from stdin`;
  await pipeline(source, client.query(copyFrom(statement)));
}

interface Deferred {
  constraints: { table: string; name: string; definition: string }[];
  indexes: { name: string; definition: string }[];
}

/** Drops the foreign keys, unique constraints and secondary indexes of the tables (kept to rebuild after the load). */
async function dropSecondary(client: pg.Client, tables: string[]): Promise<Deferred> {
  const deferred: Deferred = { constraints: [], indexes: [] };
  // Foreign keys first (of any table, pointing at or from these), then uniques, then the remaining indexes.
  const { rows: constraints } = await client.query<{ table: string; name: string; definition: string; type: string }>(
    `select c.conrelid::regclass::text as "table", c.conname as "name", pg_get_constraintdef(c.oid) as "definition", c.contype as "type"
     from pg_constraint c where c.contype in ('f', 'u') and (c.conrelid::regclass::text = any($1) or c.confrelid::regclass::text = any($1))
     order by c.contype`,
    [tables],
  );
  for (const constraint of constraints) {
    await client.query(`alter table ${constraint.table} drop constraint "${constraint.name}"`);
    deferred.constraints.push(constraint);
  }
  const { rows: indexes } = await client.query<{ name: string; definition: string }>(
    `select i.indexname as "name", i.indexdef as "definition" from pg_indexes i
     where i.schemaname = 'public' and i.tablename = any($1) and i.indexname not like '%_pkey'`,
    [tables],
  );
  for (const index of indexes) {
    await client.query(`drop index "${index.name}"`);
    deferred.indexes.push(index);
  }
  return deferred;
}

async function rebuild(client: pg.Client, deferred: Deferred, log: (message: string) => void): Promise<void> {
  for (const index of deferred.indexes) {
    const started = Date.now();
    await client.query(index.definition);
    log(`  index ${index.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // Uniques before the foreign keys that may rely on them.
  for (const constraint of [...deferred.constraints].sort((a, b) => Number(a.definition.startsWith('FOREIGN')) - Number(b.definition.startsWith('FOREIGN')))) {
    const started = Date.now();
    await client.query(`alter table ${constraint.table} add constraint "${constraint.name}" ${constraint.definition}`);
    log(`  constraint ${constraint.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** Creates (or reuses) the dataset. */
export async function ensureDataset(options: DatasetOptions): Promise<Dataset> {
  const log = options.log ?? ((message: string) => console.log(message));
  const url = databaseUrl(options.adminUrl, options.database);
  const documents = options.applications * options.documentsPerApplication;

  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  try {
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [options.database])).rowCount === 1;
    if (exists && options.fresh) await admin.query(`drop database "${options.database}" with (force)`);
    if (!exists || options.fresh) await admin.query(`create database "${options.database}"`);
  } finally {
    await admin.end();
  }

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const marker = await client.query<{ applications: string; documents: string }>(`select "applications", "documents" from "bench_dataset"`).catch(() => ({ rows: [] as { applications: string; documents: string }[] }));
    const present = marker.rows[0];
    if (present && Number(present.applications) === options.applications && Number(present.documents) === documents) {
      log(`Reusing ${options.database}: ${options.applications} applications, ${documents} documents`);
      return { url, applications: options.applications, documents, loadSeconds: 0 };
    }

    const started = Date.now();
    log(`Loading ${options.database}: ${options.applications} applications, ${documents} documents`);
    const database = await openDatabase({ config: { driver: 'postgresql', url, poolMax: 1 }, entities });
    await database.migrate();
    await database.close();

    await client.query('drop table if exists "bench_dataset"');
    // Signing keys are encrypted with the HUB_SECRET of the hub that made them: the benchmark's hub makes its own.
    await client.query('delete from "signing_key"');
    await client.query(`truncate "access_event", "citation", "document_text", "document_change", "document", "publication", "priority_claim", "application" cascade`);
    await client.query(`set maintenance_work_mem = '1GB'`);
    await client.query('set max_parallel_maintenance_workers = 2');
    for (const code of [...PROVIDERS, READER_OFFICE]) {
      await client.query(
        `insert into "office" ("code", "name", "provider_mode", "accessing", "public_access", "status", "created_at", "updated_at")
         values ($1, $2, 'repository', true, $3, 'active', now(), now())
         on conflict ("code") do update set "provider_mode" = 'repository', "accessing" = true, "public_access" = excluded."public_access", "status" = 'active'`,
        [code, `Office ${code}`, code === 'US'],
      );
    }
    const deferred = await dropSecondary(client, ['application', 'publication', 'document']);

    // Applications and their publications: ids in creation order (UUIDv7), numbers normalised as deposits do.
    const applicationIds: string[] = new Array<string>(options.applications);
    const now = new Date().toISOString();
    let phase = Date.now();
    await copy(
      client,
      'application',
      ['id', 'office_code', 'application_number', 'application_number_raw', 'number_normalized', 'display_number', 'filing_date', 'titles', 'applicants', 'inventors', 'ipc', 'cpc', 'published', 'created_at', 'updated_at'],
      lines(function* () {
        for (let i = 0; i < options.applications; i += 1) {
          const spelling = applicationSpelling(i);
          const number = normalizeNumber(spelling.application, { kind: 'application' });
          const id = uuidv7();
          applicationIds[i] = id;
          const title = `${WORDS[i % WORDS.length] ?? ''} ${WORDS[(i >> 4) % WORDS.length] ?? ''} assembly ${i}`;
          const filed = `${2005 + (i % 19)}-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`;
          yield row([
            id,
            spelling.office,
            number.number,
            spelling.application,
            true,
            number.display,
            filed,
            JSON.stringify([{ languageCode: 'en', text: title }]),
            JSON.stringify([{ name: APPLICANTS[i % APPLICANTS.length] ?? 'Acme' }]),
            JSON.stringify([{ name: `Inventor ${i}` }]),
            '{"H04L 9/32"}',
            '{}',
            // One application in fifty is not published yet.
            i % 50 !== 7,
            now,
            now,
          ]);
        }
      }),
    );
    log(`  applications: ${((Date.now() - phase) / 1000).toFixed(1)} s`);
    phase = Date.now();
    await copy(
      client,
      'publication',
      ['id', 'application_id', 'position', 'office_code', 'number', 'kind_code', 'number_raw', 'date'],
      lines(function* () {
        for (let i = 0; i < options.applications; i += 1) {
          const spelling = applicationSpelling(i);
          const publication = normalizeNumber(spelling.publication, { kind: 'publication' });
          yield row([uuidv7(), applicationIds[i] ?? '', 0, publication.officeCode, publication.number, publication.kindCode ?? 'A', spelling.publication, `${2006 + (i % 19)}-06-01`]);
        }
      }),
    );
    log(`  publications: ${((Date.now() - phase) / 1000).toFixed(1)} s`);

    // Documents: per application, in date order; mostly shared with every office, some public, some restricted
    // (to JP or to KR), some withdrawn, so the visibility predicate has work to do.
    phase = Date.now();
    const depositor = uuidv7();
    const branch = uuidv7();
    const sha = createHash('sha256').update(randomBytes(32)).digest('hex');
    await copy(
      client,
      'document',
      [
        'id', 'application_id', 'office_code', 'document_code', 'document_date', 'direction', 'language_code', 'title', 'page_count', 'media_type', 'byte_size', 'sha256',
        'storage_key', 'visibility', 'allowed_offices', 'status', 'version', 'depositor_kind', 'depositor_id', 'depositor_branch_id', 'receipt', 'received_at', 'created_at', 'updated_at',
      ],
      lines(function* () {
        for (let i = 0; i < options.applications; i += 1) {
          const office = PROVIDERS[i % PROVIDERS.length] ?? 'US';
          const year = 2005 + (i % 19);
          for (let k = 0; k < options.documentsPerApplication; k += 1) {
            const id = uuidv7();
            const variant = (i * 7 + k) % 20;
            const visibility = variant === 0 ? 'restricted' : variant < 5 ? 'public' : 'offices';
            const allowed = variant === 0 ? (i % 2 === 0 ? '{JP}' : '{KR}') : '{}';
            const status = variant === 19 ? 'withdrawn' : 'active';
            const code = CODES[k % CODES.length] ?? 'other';
            const date = `${year + Math.floor(k / 4)}-${String((k % 12) + 1).padStart(2, '0')}-${String(((i + k) % 28) + 1).padStart(2, '0')}`;
            yield row([
              id, applicationIds[i] ?? '', office, code, date, DIRECTIONS[k % DIRECTIONS.length] ?? 'outgoing', 'en', `${code} ${k + 1} of application ${i}`, 1 + (k % 40), 'application/pdf',
              20_000 + ((i * 31 + k * 17) % 2_000_000), sha, `documents/${office}/${id}.pdf`, visibility, allowed, status, 1, 'client', depositor, branch, 'bench', now, now, now,
            ]);
          }
        }
      }),
    );
    log(`  documents: ${((Date.now() - phase) / 1000).toFixed(1)} s`);

    phase = Date.now();
    await rebuild(client, deferred, log);
    log(`  indexes and constraints: ${((Date.now() - phase) / 1000).toFixed(1)} s`);
    phase = Date.now();
    await client.query('vacuum (analyze) "application", "publication", "document"');
    log(`  vacuum analyze: ${((Date.now() - phase) / 1000).toFixed(1)} s`);

    await client.query('create table "bench_dataset" ("applications" bigint not null, "documents" bigint not null, "loaded_at" timestamptz not null default now())');
    await client.query('insert into "bench_dataset" ("applications", "documents") values ($1, $2)', [options.applications, documents]);
    const loadSeconds = (Date.now() - started) / 1000;
    log(`Loaded in ${loadSeconds.toFixed(1)} s`);
    return { url, applications: options.applications, documents, loadSeconds };
  } finally {
    await client.end();
  }
}

/** The counts of the environment (BENCH_APPLICATIONS, BENCH_DOCUMENTS_PER_APPLICATION), or the `--small` ones. */
export function datasetCounts(small: boolean): { applications: number; documentsPerApplication: number } {
  return {
    applications: Number(process.env.BENCH_APPLICATIONS ?? (small ? 10_000 : 1_000_000)),
    documentsPerApplication: Number(process.env.BENCH_DOCUMENTS_PER_APPLICATION ?? 10),
  };
}

export const BENCH_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_DATABASE = process.env.BENCH_DATABASE ?? 'dx_bench';
