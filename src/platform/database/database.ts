import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { MikroORM, type EntitySchema, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { PGliteDriver, type PGliteConnectionConfig } from 'mikro-orm-pglite';
import type { Config } from '../config.js';
import { migrations } from './migrations/index.js';

export interface PoolStats {
  used: number;
  free: number;
  pendingAcquires: number;
}

export interface Database {
  readonly driver: 'pglite' | 'postgresql';
  readonly orm: MikroORM;
  /** A fresh EntityManager: one per request or job, never shared. */
  fork(): EntityManager;
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  poolStats(): PoolStats | null;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  config: Config['database'];
  entities: EntitySchema[];
  /** Use this PGlite instance instead of opening `config.dataDir` (tests pass an in-memory clone of a migrated snapshot). The caller keeps ownership. */
  pglite?: PGlite;
  debug?: boolean;
}

function ormOptions(entities: EntitySchema[]): Options {
  return {
    entities,
    extensions: [Migrator],
    migrations: {
      migrationsList: migrations,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    // No global EntityManager context: every request and job forks its own.
    allowGlobalContext: false,
    discovery: { warnWhenNoEntities: false },
    forceUtcTimezone: true,
  };
}

/** Opens the database of the configured profile: PGlite on disk (embedded default) or PostgreSQL. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { config } = options;
  let ownedPglite: PGlite | undefined;
  let orm: MikroORM;

  if (config.driver === 'postgresql') {
    orm = await MikroORM.init({
      ...ormOptions(options.entities),
      driver: PostgreSqlDriver,
      clientUrl: config.url,
      pool: { min: 0, max: config.poolMax, acquireTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 },
      // A statement that runs away must not hold a request forever.
      driverOptions: { connection: { statement_timeout: 30_000, connectionTimeoutMillis: 5_000 } },
      debug: options.debug ?? false,
    });
  } else {
    let pglite = options.pglite;
    if (!pglite) {
      await mkdir(config.dataDir, { recursive: true });
      ownedPglite = pglite = new PGlite(config.dataDir);
    }
    const instance = pglite;
    orm = await MikroORM.init({
      ...ormOptions(options.entities),
      driver: PGliteDriver,
      dbName: 'postgres',
      driverOptions: { connection: { pglite: () => instance } satisfies PGliteConnectionConfig },
      debug: options.debug ?? false,
    });
  }

  const em = orm.em as EntityManager;
  return {
    driver: config.driver,
    orm,
    fork: () => em.fork(),
    async migrate() {
      const applied = await orm.getMigrator().up();
      return applied.map((migration) => migration.name);
    },
    async ping() {
      await em.getConnection().execute('select 1');
    },
    poolStats() {
      if (config.driver !== 'postgresql') return null;
      const pool = (em.getConnection().getKnex().client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
      if (!pool) return null;
      return { used: pool.numUsed(), free: pool.numFree(), pendingAcquires: pool.numPendingAcquires() };
    },
    async close() {
      await orm.close(true);
      await ownedPglite?.close();
    },
  };
}
