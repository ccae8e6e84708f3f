import { createHash } from 'node:crypto';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import type { RawParameter } from './raw-query.js';

/** What the pg pool of knex hands out: a pg Client (only what is used here). */
interface PooledClient {
  query<T>(config: { name?: string; text: string; values?: RawParameter[] }): Promise<{ rows: T[] }>;
  /** pg's own record of the statements prepared on this connection (internal, but stable across pg 8). */
  connection?: { parsedStatements?: Record<string, string> };
}
interface ConnectionPool {
  /** Kept here, by this module, so that each database (each app) has its own. */
  dxStatements?: Map<string, Statement>;
  acquireConnection(): Promise<PooledClient>;
  releaseConnection(connection: PooledClient): unknown;
}

/**
 * Statements one pooled connection keeps prepared. Beyond it a statement runs unnamed (still with real parameters):
 * search can take thousands of shapes (filters, sorts, candidates), and each prepared one holds server memory until
 * the connection closes.
 */
const MAX_PREPARED_PER_CONNECTION = 64;
/** A prepared statement outlived by a schema change (`cached plan must not change result type`), or gone. */
const STALE_STATEMENT_CODES = new Set(['0A000', '26000']);

/** A statement as sent: `$n` placeholders, how many, and its name (a hash of the text). */
interface Statement {
  text: string;
  placeholders: number;
  name: string;
}
/**
 * Statements of SQL seen lately, per pool: hashing the text on every call was 2% of the hub's time on a dossier list.
 * Bounded: search builds many shapes.
 */
const STATEMENTS_REMEMBERED = 1_000;

function statementOf(pool: ConnectionPool, sql: string): Statement {
  let statement = pool.dxStatements?.get(sql);
  if (statement === undefined) {
    let placeholders = 0;
    const text = sql.replace(/\?/g, () => `$${(placeholders += 1)}`);
    statement = { text, placeholders, name: `dx_${createHash('sha1').update(text).digest('hex').slice(0, 24)}` };
    const statements = (pool.dxStatements ??= new Map());
    if (statements.size >= STATEMENTS_REMEMBERED) statements.clear();
    statements.set(sql, statement);
  }
  return statement;
}

/**
 * Runs a hot read (`?` placeholders) as a named prepared statement on PostgreSQL, so the server plans it once per
 * connection instead of on every request: for the dossier list, planning took 1–3 ms against 0.3 ms of execution.
 * The name is a hash of the text. Inside a transaction, and on PGlite (one in-process connection, no network), it
 * runs as `em.execute`. Named statements need a session per connection: not behind a transaction-mode pooler.
 * The SQL must not contain a literal `?` (string constants, jsonb `?` operators): every `?` is a parameter.
 */
export async function preparedQuery<T extends object>(em: EntityManager, sql: string, params: readonly RawParameter[]): Promise<T[]> {
  if (!(em.getDriver() instanceof PostgreSqlDriver) || em.getTransactionContext() !== undefined) {
    return em.execute<T[]>(sql, [...params]);
  }
  const pool = em.getConnection().getKnex().client as unknown as ConnectionPool;
  const { text, placeholders, name } = statementOf(pool, sql);
  if (placeholders !== params.length) throw new Error(`preparedQuery: ${placeholders} placeholders for ${params.length} parameters`);
  const values = [...params];
  const connection = await pool.acquireConnection();
  try {
    const prepared = connection.connection?.parsedStatements;
    if (prepared === undefined || (prepared[name] === undefined && Object.keys(prepared).length >= MAX_PREPARED_PER_CONNECTION)) {
      return (await connection.query<T>({ text, values })).rows;
    }
    try {
      return (await connection.query<T>({ name, text, values })).rows;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !STALE_STATEMENT_CODES.has(code)) throw error;
      // Prepared before a migration changed what it reads: forget it and prepare it again.
      await connection.query({ text: `deallocate ${name}` }).catch(() => undefined);
      Reflect.deleteProperty(prepared, name);
      return (await connection.query<T>({ name, text, values })).rows;
    }
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  } finally {
    await pool.releaseConnection(connection);
  }
}
