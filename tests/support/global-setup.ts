import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { entities } from '../../src/entities.js';
import { openDatabase } from '../../src/platform/database/database.js';
import { databaseUrl, dropStaleTestDatabases, testDatabaseName, withAdminClient } from './postgres.js';
import { isCI, redisStatus } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** File holding a PGlite data dir with every migration applied. */
    pgliteSnapshotPath: string;
    /** The migrated PostgreSQL template database of this run; null when PostgreSQL is unavailable. */
    postgresTemplate: string | null;
    /** Whether Redis answered when the run started. */
    redisAvailable: boolean;
  }
}

/**
 * Migrates once per run, so each test file starts from a copy instead of migrating:
 * a PGlite snapshot (loaded in memory by each file) and a PostgreSQL template database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'dx-test-'));

  const pglite = new PGlite();
  const embedded = await openDatabase({ config: { driver: 'pglite', dataDir: '' }, entities, pglite });
  await embedded.migrate();
  await embedded.close();
  const snapshot = await pglite.dumpDataDir('none');
  await pglite.close();
  const snapshotPath = path.join(workDir, 'pglite-snapshot.tar');
  await writeFile(snapshotPath, Buffer.from(await snapshot.arrayBuffer()));
  project.provide('pgliteSnapshotPath', snapshotPath);

  let postgresTemplate: string | null = null;
  const templateName = testDatabaseName();
  try {
    await withAdminClient(async (client) => {
      await dropStaleTestDatabases(client);
      await client.query(`create database "${templateName}"`);
    });
    const template = await openDatabase({ config: { driver: 'postgresql', url: databaseUrl(templateName), poolMax: 2 }, entities });
    await template.migrate();
    await template.close();
    postgresTemplate = templateName;
  } catch (error) {
    if (isCI()) throw new Error(`PostgreSQL is required (CI=true) but unavailable: ${String(error)}`);
    console.warn(`PostgreSQL unavailable, its suites will be skipped: ${String(error)}`);
  }
  project.provide('postgresTemplate', postgresTemplate);

  const redis = await redisStatus();
  if (!redis.available) {
    if (isCI()) throw new Error(`Redis is required (CI=true) but unavailable: ${redis.reason ?? ''}`);
    console.warn(`Redis unavailable, its suites will be skipped: ${redis.reason ?? ''}`);
  }
  project.provide('redisAvailable', redis.available);

  return async () => {
    if (postgresTemplate !== null) {
      await withAdminClient((client) => client.query(`drop database if exists "${templateName}" with (force)`));
    }
    await rm(workDir, { recursive: true, force: true });
  };
}
