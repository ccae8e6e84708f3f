import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalCache } from '../../src/access/principal-cache.js';
import { principalOfAccount, type Principal } from '../../src/access/principal.js';
import { call, clientToken, createSecretClient, expectProblem, login, OPERATOR_ENV, operatorToken, seedOffice, type SeededOffice } from '../support/access.js';
import { profileAvailable, startHub, startTestHub, type TestHub } from '../support/hub.js';

/** How often each kind of principal lookup happened on a node, from its /metrics. */
async function lookups(app: FastifyInstance): Promise<{ hit: number; miss: number; bypass: number }> {
  const text = (await call(app, 'GET', '/metrics')).body;
  const count = (result: string) => Number(new RegExp(`^dx_principal_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: count('hit'), miss: count('miss'), bypass: count('bypass') };
}

const me = (app: FastifyInstance, token: string) => call(app, 'GET', '/v1/me', { token });

/** Asks twice and checks that the second answer came from the node's cache (so what follows tests the cache). */
async function cachedOn(app: FastifyInstance, token: string): Promise<void> {
  // The cache is used while the node's change feed vouches for it (a heartbeat back within 2.5 s): wait for that on a busy machine.
  await expect.poll(() => app.principalChangeFeed?.current(2_000), { timeout: 10_000, interval: 10 }).toBe(true);
  expect((await me(app, token)).statusCode).toBe(200);
  const before = await lookups(app);
  expect((await me(app, token)).statusCode).toBe(200);
  expect((await lookups(app)).hit - before.hit, 'answered from the cache').toBe(1);
}

/** Polls until the node refuses the token (or the deadline passes); the milliseconds it took. */
async function refusedWithin(app: FastifyInstance, token: string, deadlineMs: number): Promise<{ status: number; ms: number; errorCode: unknown }> {
  const started = performance.now();
  for (;;) {
    const response = await me(app, token);
    const ms = performance.now() - started;
    if (response.statusCode !== 200 || ms > deadlineMs) return { status: response.statusCode, ms, errorCode: response.statusCode === 200 ? null : response.json<{ errorCode: unknown }>().errorCode };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs SQL on the hub's own database, as a database administrator would (outside the hub). */
async function onDatabase(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(!profileAvailable('services'))('principal cache on PostgreSQL: two nodes on one database', () => {
  let hub: TestHub;
  /** A second node of the same hub (same database, services and secrets). */
  let other: FastifyInstance;
  let operator: string;
  let ep: SeededOffice;
  let databaseUrl: string;

  beforeAll(async () => {
    hub = await startTestHub('services', { ...OPERATOR_ENV, HUB_SECRET: 'a hub secret shared by every node of this test' });
    other = (await startHub(hub.env)).app;
    await hub.app.principalChangeFeed?.waitLive(10_000);
    await other.principalChangeFeed?.waitLive(10_000);
    operator = await operatorToken(hub.app);
    ep = await seedOffice(hub.app, operator, { code: 'EP', branches: 3 });
    databaseUrl = hub.env.DATABASE_URL ?? '';
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await hub?.close();
  });

  it('answers a known caller from memory on the next requests', async () => {
    const before = await lookups(other);
    for (let round = 0; round < 5; round += 1) expect((await me(other, ep.admin.token)).statusCode).toBe(200);
    const after = await lookups(other);
    expect(after.hit - before.hit).toBeGreaterThanOrEqual(4);
    expect(after.bypass - before.bypass).toBe(0);
  });

  it('refuses a disabled account on the node that disabled it at once, and on the other node as soon as the change is notified', async () => {
    const examiner = ep.examiners[0]!;
    await cachedOn(hub.app, examiner.token);
    await cachedOn(other, examiner.token);
    const disabled = await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'disabled' } });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expectProblem(await me(hub.app, examiner.token), 401, 'ACCOUNT_DISABLED');
    const elsewhere = await refusedWithin(other, examiner.token, 2_000);
    expect(elsewhere).toMatchObject({ status: 401, errorCode: 'ACCOUNT_DISABLED' });
    expect(elsewhere.ms).toBeLessThan(1_000);
    // Enabled again, the examiner signs in anew (disabling ended the old sessions) and is accepted everywhere.
    await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'active' } });
    expectProblem(await me(other, examiner.token), 401, 'SESSION_ENDED');
    expect((await me(other, (await login(hub.app, examiner.username, examiner.password)).accessToken)).statusCode).toBe(200);
  });

  it('refuses a suspended office, an ended session and a revoked client on the other node', async () => {
    const examiner = ep.examiners[1]!;
    const session = await login(hub.app, examiner.username, examiner.password);
    const client = await createSecretClient(hub.app, ep.admin.token, 'EP', ep.branches[2]!.id);
    const clientAccess = await clientToken(hub.app, client.id, client.secret);
    for (const token of [session.accessToken, clientAccess, ep.admin.token]) await cachedOn(other, token);

    expect((await call(hub.app, 'POST', '/v1/auth/logout', { body: { refreshToken: session.refreshToken } })).statusCode).toBe(204);
    expect(await refusedWithin(other, session.accessToken, 2_000)).toMatchObject({ status: 401, errorCode: 'SESSION_ENDED' });

    expect((await call(hub.app, 'POST', `/v1/offices/EP/clients/${client.id}/revoke`, { token: ep.admin.token })).statusCode).toBeLessThan(300);
    expect(await refusedWithin(other, clientAccess, 2_000)).toMatchObject({ status: 401, errorCode: 'CLIENT_REVOKED' });

    expect((await call(hub.app, 'PATCH', '/v1/offices/EP', { token: operator, body: { status: 'suspended' } })).statusCode).toBe(200);
    expect(await refusedWithin(other, ep.admin.token, 2_000)).toMatchObject({ status: 403, errorCode: 'OFFICE_SUSPENDED' });
    expect((await call(hub.app, 'PATCH', '/v1/offices/EP', { token: operator, body: { status: 'active' } })).statusCode).toBe(200);
    await expect.poll(async () => (await me(other, ep.admin.token)).statusCode, { timeout: 2_000, interval: 10 }).toBe(200);
  });

  it('ends a session on the other node when the password changes, and shows a branch move there', async () => {
    const examiner = ep.examiners[1]!;
    const first = await login(hub.app, examiner.username, examiner.password);
    await cachedOn(other, first.accessToken);
    const changed = await call(hub.app, 'POST', '/v1/me/password', { token: first.accessToken, body: { currentPassword: examiner.password, newPassword: 'a changed examiner password' } });
    expect(changed.statusCode, changed.body).toBe(200);
    examiner.password = 'a changed examiner password';
    expect(await refusedWithin(other, first.accessToken, 2_000)).toMatchObject({ status: 401, errorCode: 'SESSION_ENDED' });

    const token = (await login(hub.app, examiner.username, examiner.password)).accessToken;
    await cachedOn(other, token);
    expect((await me(other, token)).json<{ branch: { id: string } }>().branch.id).toBe(ep.branches[1]!.id);
    const moved = await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { branchId: ep.branches[0]!.id } });
    expect(moved.statusCode, moved.body).toBe(200);
    await expect.poll(async () => (await me(other, token)).json<{ branch: { id: string } | null }>().branch?.id, { timeout: 1_000, interval: 5 }).toBe(ep.branches[0]!.id);
  });

  it('ends the session of a reused refresh token on the very next request, though the reuse itself is refused', async () => {
    const examiner = ep.examiners[0]!;
    const session = await login(hub.app, examiner.username, examiner.password);
    const rotated = await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: session.refreshToken } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { accessToken } = rotated.json<{ accessToken: string }>();
    await cachedOn(hub.app, accessToken);
    await cachedOn(other, accessToken);
    expectProblem(await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: session.refreshToken } }), 401, 'REFRESH_TOKEN_REUSED');
    expectProblem(await me(hub.app, accessToken), 401, 'SESSION_ENDED');
    expect(await refusedWithin(other, accessToken, 2_000)).toMatchObject({ status: 401, errorCode: 'SESSION_ENDED' });
  });

  it('sees a change written straight into the database, by no node at all', async () => {
    const examiner = ep.examiners[2]!;
    await cachedOn(other, examiner.token);
    await cachedOn(hub.app, examiner.token);
    await onDatabase(databaseUrl, (client) => client.query(`update "account" set "status" = 'disabled' where "id" = $1`, [examiner.id]));
    for (const node of [other, hub.app]) {
      const refused = await refusedWithin(node, examiner.token, 2_000);
      expect(refused).toMatchObject({ status: 401, errorCode: 'ACCOUNT_DISABLED' });
      expect(refused.ms).toBeLessThan(1_000);
    }
    await onDatabase(databaseUrl, (client) => client.query(`update "account" set "status" = 'active' where "id" = $1`, [examiner.id]));
  });

  it('reuses nothing while its change feed is down, and caches again once it is back', async () => {
    const examiner = ep.examiners[2]!;
    await expect.poll(async () => (await me(other, examiner.token)).statusCode, { timeout: 2_000, interval: 10 }).toBe(200);
    await cachedOn(other, examiner.token);
    // Cut the listening connections, as a database restart or a network fault would.
    await onDatabase(databaseUrl, (client) =>
      client.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'dx dx_principal_change'`),
    );
    await expect.poll(() => other.principalChangeFeed?.live, { timeout: 2_000, interval: 1 }).toBe(false);
    // A change no notification announces (triggers off for this session): only a database check can see it.
    await onDatabase(databaseUrl, async (client) => {
      await client.query(`set session_replication_role = replica`);
      await client.query(`update "account" set "status" = 'disabled' where "id" = $1`, [examiner.id]);
    });
    // Whether the feed is still down (bypass) or already back (which empties the cache: miss), the database is asked.
    const before = await lookups(other);
    expectProblem(await me(other, examiner.token), 401, 'ACCOUNT_DISABLED');
    const during = await lookups(other);
    expect(during.hit - before.hit).toBe(0);
    expect(during.bypass + during.miss - (before.bypass + before.miss)).toBe(1);
    await onDatabase(databaseUrl, (client) => client.query(`update "account" set "status" = 'active' where "id" = $1`, [examiner.id]));
    await other.principalChangeFeed?.waitLive(15_000);
    await hub.app.principalChangeFeed?.waitLive(15_000);
    await cachedOn(other, examiner.token);
  });
});

describe.skipIf(!profileAvailable('services'))('principal cache: its longest reuse', () => {
  let hub: TestHub;
  let ep: SeededOffice;

  beforeAll(async () => {
    hub = await startTestHub('services', { ...OPERATOR_ENV, PRINCIPAL_CACHE_SECONDS: '3' });
    await hub.app.principalChangeFeed?.waitLive(10_000);
    ep = await seedOffice(hub.app, await operatorToken(hub.app), { code: 'JP', branches: 1 });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
  });

  it('checks the database again after PRINCIPAL_CACHE_SECONDS even when no change was notified', async () => {
    const examiner = ep.examiners[0]!;
    await cachedOn(hub.app, examiner.token);
    await onDatabase(hub.env.DATABASE_URL ?? '', async (client) => {
      await client.query(`set session_replication_role = replica`);
      await client.query(`update "account" set "status" = 'disabled' where "id" = $1`, [examiner.id]);
    });
    // Unannounced, the change is not seen while the entry is young...
    const young = await me(hub.app, examiner.token);
    // ...and it is seen once the entry is three seconds old.
    const refused = await refusedWithin(hub.app, examiner.token, 6_000);
    expect(young.statusCode).toBe(200);
    expect(refused).toMatchObject({ status: 401, errorCode: 'ACCOUNT_DISABLED' });
    expect(refused.ms).toBeLessThan(3_500);
  });
});

describe('principal cache on the embedded profile', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub('embedded', OPERATOR_ENV);
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
  });

  it('is off: every request asks PGlite', async () => {
    const token = await operatorToken(hub.app);
    const before = await lookups(hub.app);
    for (let round = 0; round < 3; round += 1) expect((await me(hub.app, token)).statusCode).toBe(200);
    const after = await lookups(hub.app);
    expect(after.bypass - before.bypass).toBe(3);
    expect(after.hit - before.hit).toBe(0);
    expect(hub.app.principalChangeFeed).toBeUndefined();
  });
});

describe('principal cache, by itself', () => {
  const subject = { kind: 'account' as const, id: '0190f2c4-0000-7000-8000-000000000001', sessionId: '0190f2c4-0000-7000-8000-000000000002' };
  const examiner = (branchId: string): Principal => principalOfAccount({ id: subject.id, role: 'examiner', officeCode: 'EP', branchId });

  it('does not keep an answer read before a change it was told of while reading', async () => {
    const seen: string[] = [];
    const cache = createPrincipalCache({ maxAgeMs: 60_000, trusted: () => true, onLookup: (result) => seen.push(result) });
    let answer!: (principal: Principal) => void;
    const slow = cache.principalOf(subject, () => new Promise<Principal>((resolve) => (answer = resolve)));
    cache.clear(); // the notification of a change arrives while the database is still answering
    answer(examiner('old-branch'));
    expect(await slow).toMatchObject({ branchId: 'old-branch' });
    expect(await cache.principalOf(subject, async () => examiner('new-branch'))).toMatchObject({ branchId: 'new-branch' });
    expect(await cache.principalOf(subject, async () => examiner('never read'))).toMatchObject({ branchId: 'new-branch' });
    expect(seen).toEqual(['miss', 'miss', 'hit']);
  });

  it('never keeps a refusal, reuses nothing while untrusted, and forgets everything when it goes live again', async () => {
    let trusted = true;
    const cache = createPrincipalCache({ maxAgeMs: 60_000, trusted: () => trusted });
    await expect(cache.principalOf(subject, async () => Promise.reject(new Error('disabled')))).rejects.toThrow('disabled');
    expect(cache.size).toBe(0);
    await cache.principalOf(subject, async () => examiner('a'));
    trusted = false;
    expect(await cache.principalOf(subject, async () => examiner('b'))).toMatchObject({ branchId: 'b' });
    trusted = true;
    cache.clear(); // what the owner does when the feed drops or comes back
    expect(await cache.principalOf(subject, async () => examiner('c'))).toMatchObject({ branchId: 'c' });
  });

  it('keeps at most maxEntries and hands out frozen principals', async () => {
    const cache = createPrincipalCache({ maxAgeMs: 60_000, maxEntries: 2, trusted: () => true });
    for (const id of ['1', '2', '3']) await cache.principalOf({ kind: 'client', id }, async () => examiner(id));
    expect(cache.size).toBe(2);
    const principal = await cache.principalOf({ kind: 'client', id: '3' }, async () => examiner('not read'));
    expect(Object.isFrozen(principal)).toBe(true);
  });
});
