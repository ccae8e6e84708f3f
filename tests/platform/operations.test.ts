import { rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Environment } from '../../src/platform/config.js';
import { profileAvailable, provisionProfile, startHub, startTestHub, type TestHub } from '../support/hub.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

type Readiness = { status: string; dependencies: { name: string; status: string }[] };

describe('operations endpoints [embedded]', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub('embedded', { READINESS_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('answers liveness', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the database and the store answer', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(200);
    expect(response.json<Readiness>().dependencies).toEqual([
      { name: 'database', status: 'up' },
      { name: 'storage', status: 'up' },
    ]);
  });

  it('exposes request counts and latency histograms by route template, and job gauges', async () => {
    await hub.app.inject({ method: 'GET', url: '/v1/offices/EP' });
    await hub.app.inject({ method: 'GET', url: '/v1/offices/JP' });
    const response = await hub.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(text).toMatch(/dx_http_requests_total\{method="GET",route="\/v1\/offices\/:officeCode",status_code="404"\} 2/);
    expect(text).toMatch(/dx_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v1\/offices\/:officeCode",status_code="404"\} \d+/);
    expect(text).toMatch(/# TYPE dx_jobs gauge/);
    expect(text).toMatch(/dx_process_resident_memory_bytes \d+/);
  });

  it('names the store when it is down, with 503 and Retry-After, and recovers without a restart', async () => {
    const root = hub.config.storage.driver === 'filesystem' ? hub.config.storage.root : '';
    await rm(root, { recursive: true, force: true });
    await writeFile(root, 'not a directory');
    try {
      const response = await hub.app.inject({ method: 'GET', url: '/ready' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({
        errorCode: 'NOT_READY',
        detail: 'Not ready: storage unavailable',
        dependencies: [
          { name: 'database', status: 'up' },
          { name: 'storage', status: 'down' },
        ],
      });
      expect(response.body).not.toContain(root);
    } finally {
      await rm(root, { force: true });
    }
    await hub.app.storage.ping().catch(() => undefined);
  });
});

describe.skipIf(!profileAvailable('services'))('operations endpoints [services]: each dependency cut off and restored', () => {
  let app: Awaited<ReturnType<typeof startHub>>['app'];
  let release: () => Promise<void>;
  const proxies: Record<'database' | 'storage' | 'redis', TcpProxy> = {} as never;

  beforeAll(async () => {
    const provisioned = await provisionProfile('services');
    release = provisioned.release;
    const env: Environment = { ...provisioned.env, READINESS_TIMEOUT_MS: '1000' };
    // Route each service through a relay the test can cut.
    const database = new URL(env.DATABASE_URL ?? '');
    proxies.database = await startTcpProxy(database.hostname, Number(database.port || 5432));
    database.host = `127.0.0.1:${proxies.database.port}`;
    const storage = new URL(env.S3_ENDPOINT ?? '');
    proxies.storage = await startTcpProxy(storage.hostname, Number(storage.port));
    storage.host = `127.0.0.1:${proxies.storage.port}`;
    const redis = new URL(env.REDIS_URL ?? '');
    proxies.redis = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
    redis.host = `127.0.0.1:${proxies.redis.port}`;
    ({ app } = await startHub({ ...env, DATABASE_URL: database.href, S3_ENDPOINT: storage.origin, REDIS_URL: redis.href }));
  });
  afterAll(async () => {
    await app?.close();
    for (const proxy of Object.values(proxies)) await proxy.close();
    await release?.();
  });

  it('is ready when the database, the store and Redis answer', async () => {
    const response = await app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(200);
    expect(response.json<Readiness>().dependencies.map((dependency) => `${dependency.name}:${dependency.status}`)).toEqual(['database:up', 'storage:up', 'redis:up']);
  });

  it('exposes the database pool gauges', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/dx_db_pool_connections\{state="used"\} \d+/);
    expect(text).toMatch(/dx_db_pool_connections\{state="free"\} \d+/);
  });

  it.each(['database', 'storage', 'redis'] as const)('names %s when it is cut off, answers 503 quickly, and recovers once it is back', async (name) => {
    await proxies[name].cut();
    try {
      const started = Date.now();
      const response = await app.inject({ method: 'GET', url: '/ready' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json()).toMatchObject({ errorCode: 'NOT_READY', detail: `Not ready: ${name} unavailable` });
      if (name === 'database') {
        const offices = await app.inject({ method: 'GET', url: '/v1/offices' });
        expect(offices.statusCode).toBe(503);
        expect(offices.headers['retry-after']).toBe('5');
        expect(offices.json()).toMatchObject({ errorCode: 'DEPENDENCY_UNAVAILABLE' });
        expect(offices.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|at .*\.js/);
      }
    } finally {
      await proxies[name].restore();
    }
    await expect
      .poll(async () => (await app.inject({ method: 'GET', url: '/ready' })).statusCode, { timeout: 15_000, interval: 250 })
      .toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/offices' })).statusCode).toBe(200);
  });
});
