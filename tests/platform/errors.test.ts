import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

describe('problem documents', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub('embedded');
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('answers an unknown route with 404 problem+json naming the path', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/v1/nothing-here?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(response.json()).toEqual({
      type: 'https://dossier-exchange.org/problems/route-not-found',
      title: 'Not Found',
      status: 404,
      detail: 'No route matches GET /v1/nothing-here',
      instance: '/v1/nothing-here',
      errorCode: 'ROUTE_NOT_FOUND',
      requestId: response.headers['x-request-id'],
    });
  });

  it('answers a known path with an unsupported method with 405 and an Allow header', async () => {
    const response = await hub.app.inject({ method: 'DELETE', url: '/v1/offices/EP' });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toContain('GET');
    expect(response.json()).toMatchObject({ status: 405, errorCode: 'METHOD_NOT_ALLOWED', allowed: expect.arrayContaining(['GET']) });
  });

  it('answers an oversize JSON body with 413 before reading it all', async () => {
    const response = await hub.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'x', password: 'y'.repeat(hub.config.limits.bodyLimitBytes) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ status: 413, errorCode: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers a body of a media type the operation does not take with 415', async () => {
    const response = await hub.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/csv' }, payload: 'username,password' });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ status: 415, errorCode: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('answers malformed JSON with 400 MALFORMED_BODY', async () => {
    const response = await hub.app.inject({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username": "x", ' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ status: 400, errorCode: 'MALFORMED_BODY' });
  });

  it('names every invalid body field in a 400', async () => {
    const response = await hub.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username: 42, extra: true } });
    expect(response.statusCode).toBe(400);
    const problem = response.json<{ errorCode: string; errors: { field: string }[] }>();
    expect(problem.errorCode).toBe('VALIDATION_FAILED');
    expect(problem.errors.map((error) => error.field)).toEqual(expect.arrayContaining(['/body/username', '/body/password']));
  });

  it('keeps a well-formed request id from the caller and mints one otherwise', async () => {
    const kept = await hub.app.inject({ method: 'GET', url: '/v1/offices/XX', headers: { 'x-request-id': 'trace-123' } });
    expect(kept.headers['x-request-id']).toBe('trace-123');
    expect(kept.json()).toMatchObject({ requestId: 'trace-123' });
    const replaced = await hub.app.inject({ method: 'GET', url: '/v1/offices/XX', headers: { 'x-request-id': 'bad id with spaces <script>' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never shows internals in a 500: no message, no stack, only the request id to quote', async () => {
    const fork = hub.app.db.fork;
    hub.app.db.fork = () => {
      throw new TypeError('secret detail at /srv/hub/src/access/office.service.ts:42 password=hunter2');
    };
    try {
      const response = await hub.app.inject({ method: 'GET', url: '/v1/offices' });
      expect(response.statusCode).toBe(500);
      const problem = response.json<Record<string, unknown>>();
      expect(problem).toMatchObject({ status: 500, errorCode: 'INTERNAL_ERROR', title: 'Internal Server Error' });
      expect(problem.detail).toContain(String(problem.requestId));
      expect(response.body).not.toMatch(/secret|hunter2|office\.service|TypeError|stack/);
    } finally {
      hub.app.db.fork = fork;
    }
    expect((await hub.app.inject({ method: 'GET', url: '/v1/offices' })).statusCode).toBe(200);
  });

  it('answers a database that went away with 503 and Retry-After, not 500', async () => {
    const fork = hub.app.db.fork;
    hub.app.db.fork = () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' });
    };
    try {
      const response = await hub.app.inject({ method: 'GET', url: '/v1/offices' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json()).toMatchObject({ errorCode: 'DEPENDENCY_UNAVAILABLE' });
      expect(response.body).not.toContain('10.1.2.3');
    } finally {
      hub.app.db.fork = fork;
    }
  });
});
