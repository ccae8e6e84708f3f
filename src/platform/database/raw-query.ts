import type { Knex } from '@mikro-orm/knex';
import type { EntityManager } from '@mikro-orm/postgresql';

/** A bind parameter: `?` placeholders take these (no arrays: knex would expand them into lists). */
export type RawParameter = string | number | boolean | null;

/**
 * Runs one SQL statement with real bind parameters (`?` placeholders) in the EntityManager's transaction, if it has
 * one. `em.execute` inlines parameters into the SQL text, which is fine for small values but makes PostgreSQL parse
 * every large parameter (a batch of rows as one JSON document) as a literal; this sends them as parameters instead.
 * Both drivers (pg and PGlite) answer with `rows`. Errors are converted as `em.execute` converts them.
 */
export async function rawQuery<T extends object = Record<string, unknown>>(em: EntityManager, sql: string, params: readonly RawParameter[] = []): Promise<T[]> {
  const knex: Knex = em.getTransactionContext<Knex.Transaction>() ?? em.getConnection().getKnex();
  try {
    const result = await knex.raw<{ rows?: T[] }>(sql, [...params]);
    return result.rows ?? [];
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  }
}
