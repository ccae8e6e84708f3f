import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { FastifyInstance } from 'fastify';
import { describe, inject } from 'vitest';
import type { AccessModuleOptions } from '../../src/access/index.js';
import { buildApp, type BuildAppOptions } from '../../src/app.js';
import { loadConfig, type Config, type Environment } from '../../src/platform/config.js';
import { createTestDatabase } from './postgres.js';
import { startS3rver } from './s3rver.js';
import { deleteRedisKeys, redisUrlForTests } from './services.js';

/**
 * The two deployment profiles every module suite runs on:
 * - embedded: PGlite (in memory, from the migrated snapshot) + filesystem blobs + in-process jobs
 * - services: PostgreSQL (a fresh database from the migrated template) + S3 (s3rver) + BullMQ on Redis
 */
export type ProfileName = 'embedded' | 'services';
export const PROFILES: readonly ProfileName[] = ['embedded', 'services'];

export function profileAvailable(profile: ProfileName): boolean {
  return profile === 'embedded' || (inject('postgresTemplate') !== null && inject('redisAvailable'));
}

/** `describe` once per profile; the services profile is skipped only when its services are down outside CI (global setup fails CI). */
export function describeEachProfile(name: string, body: (profile: ProfileName) => void): void {
  for (const profile of PROFILES) describe.skipIf(!profileAvailable(profile))(`${name} [${profile}]`, () => body(profile));
}

export interface TestHub {
  /** The running app; `restart()` replaces it. */
  app: FastifyInstance;
  config: Config;
  /** The environment the hub was configured from, to start another process on the same state. */
  env: Environment;
  /** The embedded profile's in-memory database, shared by every app this hub starts. */
  pglite?: PGlite;
  /** Closes the app and starts a new one on the same state (database, DATA_DIR, services). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Resources of a profile, without the app: shared by `startTestHub` and tests that spawn the server. */
export async function provisionProfile(
  profile: ProfileName,
  options: { embeddedOnDisk?: boolean } = {},
): Promise<{ env: Environment; pglite?: PGlite; release(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dx-hub-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dataDir, { recursive: true, force: true })];
  const release = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const env: Environment = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', PORT: '0' };
    if (profile === 'embedded' && options.embeddedOnDisk) return { env, release };
    if (profile === 'embedded') {
      const snapshot = await readFile(inject('pgliteSnapshotPath'));
      const pglite = new PGlite({ loadDataDir: new Blob([snapshot]) });
      await pglite.waitReady;
      cleanups.push(() => pglite.close());
      return { env, pglite, release };
    }
    const template = inject('postgresTemplate');
    if (template === null) throw new Error('PostgreSQL is unavailable for the services profile');
    const database = await createTestDatabase(template);
    cleanups.push(() => database.drop());
    const s3 = await startS3rver();
    cleanups.push(() => s3.close());
    const prefix = `dxt${randomBytes(4).toString('hex')}`;
    cleanups.push(() => deleteRedisKeys(prefix));
    Object.assign(env, {
      DATABASE_URL: database.url,
      S3_ENDPOINT: `http://${s3.endPoint}:${s3.port}`,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_PART_SIZE_MB: '5',
      REDIS_URL: redisUrlForTests(),
      REDIS_PREFIX: prefix,
    } satisfies Environment);
    return { env, release };
  } catch (error) {
    await release();
    throw error;
  }
}

export interface StartOptions {
  /** Process jobs in the test's process (default true, on both profiles). */
  runJobs?: boolean;
  /** Embedded profile only: open `DATA_DIR/db` on disk as `npm start` does, instead of an in-memory snapshot copy. */
  embeddedOnDisk?: boolean;
  /** Access module settings; by default a cheap password hashing cost (tests only), see TEST_ACCESS_OPTIONS. */
  access?: AccessModuleOptions;
  /** Logger options (default: none). */
  logger?: BuildAppOptions['logger'];
}

/** scrypt at N = 2^10 keeps the suites fast; the hub's own default (2^15) stays in force everywhere else. */
export const TEST_ACCESS_OPTIONS: AccessModuleOptions = { passwordHashCost: 2 ** 10 };

/** A hub built from an environment (and a borrowed PGlite), ready to serve. The caller closes it. */
export async function startHub(env: Environment, pglite?: PGlite, options: StartOptions = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = loadConfig(env);
  const app = await buildApp({
    config,
    logger: options.logger ?? false,
    ...(pglite ? { pglite } : {}),
    runJobs: options.runJobs ?? true,
    access: options.access ?? TEST_ACCESS_OPTIONS,
  });
  await app.ready();
  return { app, config };
}

/** A whole hub on the given profile, isolated from every other test file. */
export async function startTestHub(profile: ProfileName, extraEnv: Environment = {}, options: StartOptions = {}): Promise<TestHub> {
  const provisioned = await provisionProfile(profile, options);
  try {
    const env = { ...provisioned.env, ...extraEnv };
    const { app, config } = await startHub(env, provisioned.pglite, options);
    const hub: TestHub = {
      app,
      config,
      env,
      ...(provisioned.pglite ? { pglite: provisioned.pglite } : {}),
      async restart() {
        await hub.app.close();
        hub.app = (await startHub(env, provisioned.pglite, options)).app;
      },
      async close() {
        await hub.app.close();
        await provisioned.release();
      },
    };
    return hub;
  } catch (error) {
    await provisioned.release();
    throw error;
  }
}
