import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, createSecretClient, expectProblem, OPERATOR, OPERATOR_ENV, operatorToken, seedOffice, type SeededOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Event {
  id: string;
  occurredAt: string;
  type: string;
  outcome: string;
  actor: { kind: string; id: string | null };
  officeCode: string | null;
  target: { type: string; id: string } | null;
  ip: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

describeEachProfile('security audit log', (profile) => {
  let hub: TestHub;
  let operator: string;
  let it_: SeededOffice;
  let de: SeededOffice;
  let operatorId: string;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    operatorId = (await call(hub.app, 'GET', '/v1/me', { token: operator })).json<{ user: { id: string } }>().user.id;
    it_ = await seedOffice(hub.app, operator, { code: 'IT', branches: 1 });
    de = await seedOffice(hub.app, operator, { code: 'DE', branches: 1 });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const events = async (url: string, token = operator): Promise<Event[]> => {
    const response = await call(hub.app, 'GET', url, { token });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ items: Event[] }>().items;
  };

  it('records logins and failures with the address and request id, never the password', async () => {
    const failed = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: it_.admin.username, password: 'a wrong password' }, ip: '192.0.2.7' });
    expect(failed.statusCode).toBe(401);
    const ok = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: it_.admin.username, password: it_.admin.password }, ip: '192.0.2.8' });
    expect(ok.statusCode).toBe(200);
    const list = await events('/v1/audit-events?officeCode=IT&limit=200');
    const failure = list.find((event) => event.requestId === failed.headers['x-request-id']);
    expect(failure).toMatchObject({
      type: 'auth.login.failed',
      outcome: 'failure',
      actor: { kind: 'officeAdmin', id: it_.admin.id },
      officeCode: 'IT',
      target: { type: 'account', id: it_.admin.id },
      ip: '192.0.2.7',
      details: { username: it_.admin.username, reason: 'invalid_credentials' },
    });
    expect(list.find((event) => event.requestId === ok.headers['x-request-id'])).toMatchObject({ type: 'auth.login.succeeded', outcome: 'success', ip: '192.0.2.8' });
    expect(JSON.stringify(list)).not.toContain(it_.admin.password);
    expect(JSON.stringify(list)).not.toContain('a wrong password');

    const unknown = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'who-is-this', password: 'whatever it is' } });
    const hubWide = await events('/v1/audit-events?type=auth.login.failed&limit=200');
    expect(hubWide.find((event) => event.requestId === unknown.headers['x-request-id'])).toMatchObject({ actor: { kind: 'anonymous', id: null }, officeCode: null, details: { username: 'who-is-this', reason: 'invalid_credentials' } });
  });

  it('records account, branch, client and office changes with who made them', async () => {
    const client = await createSecretClient(hub.app, it_.admin.token, 'IT', it_.branches[0]?.id ?? '');
    await call(hub.app, 'POST', `/v1/offices/IT/clients/${client.id}/revoke`, { token: it_.admin.token });
    await call(hub.app, 'PATCH', `/v1/offices/IT/users/${it_.examiners[0]?.id ?? ''}`, { token: it_.admin.token, body: { status: 'disabled' } });
    await call(hub.app, 'PATCH', '/v1/offices/IT', { token: operator, body: { publicAccess: true } });
    const list = await events('/v1/offices/IT/audit-events?limit=200', it_.admin.token);
    const types = list.map((event) => event.type);
    for (const type of ['office.created', 'office.updated', 'branch.created', 'account.created', 'account.updated', 'client.created', 'client.revoked', 'auth.login.succeeded']) {
      expect(types, type).toContain(type);
    }
    expect(list.find((event) => event.type === 'client.revoked')).toMatchObject({ actor: { kind: 'officeAdmin', id: it_.admin.id }, target: { type: 'client', id: client.id } });
    expect(list.find((event) => event.type === 'account.updated')).toMatchObject({ details: { changes: { status: 'disabled' } } });
    expect(list.find((event) => event.type === 'office.updated')).toMatchObject({ actor: { kind: 'operator', id: operatorId }, details: { changes: { publicAccess: true } } });
    // An office's log holds its own events only.
    expect(list.every((event) => event.officeCode === 'IT')).toBe(true);
    // Newest first (UUIDv7 ids sort by time).
    expect(list.map((event) => event.id)).toEqual([...list.map((event) => event.id)].sort().reverse());
  });

  it('pages with an opaque cursor and filters by type', async () => {
    const first = (await call(hub.app, 'GET', '/v1/audit-events?limit=3', { token: operator })).json<{ items: Event[]; nextCursor: string }>();
    expect(first.items).toHaveLength(3);
    const second = (await call(hub.app, 'GET', `/v1/audit-events?limit=3&cursor=${first.nextCursor}`, { token: operator })).json<{ items: Event[] }>();
    expect(second.items).toHaveLength(3);
    expect(second.items[0]?.id.localeCompare(first.items[2]?.id ?? '')).toBeLessThan(0);
    expect((await events('/v1/audit-events?type=office.created&limit=200')).map((event) => event.officeCode).sort()).toEqual(['DE', 'IT']);
    expectProblem(await call(hub.app, 'GET', '/v1/audit-events?cursor=garbage', { token: operator }), 400, 'INVALID_CURSOR');
  });

  it('is readable by the operator (all) and by an office’s administrator (its office only)', async () => {
    expect((await events('/v1/offices/DE/audit-events', operator)).length).toBeGreaterThan(0);
    expect((await events('/v1/offices/DE/audit-events', de.admin.token)).every((event) => event.officeCode === 'DE')).toBe(true);
    expectProblem(await call(hub.app, 'GET', '/v1/offices/DE/audit-events', { token: it_.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
    expectProblem(await call(hub.app, 'GET', '/v1/audit-events', { token: it_.admin.token }), 403, 'OPERATION_NOT_PERMITTED');
    expectProblem(await call(hub.app, 'GET', '/v1/audit-events?officeCode=IT', { token: it_.admin.token }), 403, 'OPERATION_NOT_PERMITTED');
    expectProblem(await call(hub.app, 'GET', '/v1/offices/DE/audit-events', { token: de.examiners[0]?.token ?? '' }), 403, 'OPERATION_NOT_PERMITTED');
    expectProblem(await call(hub.app, 'GET', '/v1/audit-events'), 401, 'AUTHENTICATION_REQUIRED');
    expectProblem(await call(hub.app, 'GET', '/v1/offices/JP/audit-events', { token: operator }), 404, 'OFFICE_NOT_FOUND');
  });

  it('records the operator’s own logins as hub-wide events', async () => {
    const list = await events('/v1/audit-events?type=auth.login.succeeded&limit=200');
    expect(list.some((event) => event.actor.kind === 'operator' && event.officeCode === null && event.details.username === OPERATOR.username)).toBe(true);
  });
});
