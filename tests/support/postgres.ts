import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the real-service suites use; TEST_DATABASE_URL overrides it. */
export function postgresAdminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function databaseUrl(database: string): string {
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${database}`;
  return url.href;
}

export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresAdminUrl(), connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const TEST_DATABASE_PREFIX = 'dx_test_';
const STALE_AFTER_SECONDS = 6 * 3600;

/** Names carry their creation time so a run can tell its own databases from an interrupted run's leftovers. */
export function testDatabaseName(): string {
  return `${TEST_DATABASE_PREFIX}${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}

/** A fresh database cloned from the run's migrated template: each test file gets its own. */
export async function createTestDatabase(template: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = testDatabaseName();
  await withAdminClient((client) => client.query(`create database "${name}" template "${template}"`));
  return {
    url: databaseUrl(name),
    drop: () => withAdminClient((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}

/** Drops test databases that interrupted runs left behind hours ago (concurrent runs keep theirs). */
export async function dropStaleTestDatabases(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like '${TEST_DATABASE_PREFIX}%'`);
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const created = Number(/^dx_test_(\d+)_/.exec(datname)?.[1] ?? 0);
    if (now - created > STALE_AFTER_SECONDS) await client.query(`drop database if exists "${datname}" with (force)`);
  }
}
