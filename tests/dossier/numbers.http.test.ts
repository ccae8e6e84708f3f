import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Validator } from '@seriousme/openapi-schema-validator';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dossierModule } from '../../src/dossier/index.js';
import { openapiPlugin } from '../../src/platform/openapi.plugin.js';
import { problemHandlerPlugin } from '../../src/platform/problem-handler.js';

/**
 * The endpoint on a bare fastify with the hub's problem handler and OpenAPI plugin: it needs
 * no database, and app.ts registers the dossier module separately.
 */
async function buildNumbersApp() {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', useDefaults: true, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(problemHandlerPlugin);
  await app.register(openapiPlugin);
  await app.register(dossierModule);
  await app.ready();
  return app;
}

describe('GET /v1/numbers/normalize', () => {
  let app: Awaited<ReturnType<typeof buildNumbersApp>>;
  const get = (query: string) => app.inject({ method: 'GET', url: `/v1/numbers/normalize?${query}` });

  beforeAll(async () => {
    app = await buildNumbersApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('normalises a URL-encoded PCT application number', async () => {
    const response = await get('number=PCT%2FCN2023%2F123456');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toStrictEqual({
      type: 'application',
      officeCode: 'WO',
      number: 'CN2023123456',
      raw: 'PCT/CN2023/123456',
      display: 'PCT/CN2023/123456',
    });
  });

  it.each([
    ['number=US+17%2F123%2C456', { type: 'application', officeCode: 'US', number: '17123456', raw: 'US 17/123,456', display: 'US 17/123,456' }],
    ['number=17%2F123%2C456&officeCode=us', { type: 'application', officeCode: 'US', number: '17123456', raw: '17/123,456', display: 'US 17/123,456' }],
    ['number=CN202310001234', { type: 'application', officeCode: 'CN', number: '202310001234.7', checkDigit: '7', checkDigitValid: true, raw: 'CN202310001234', display: 'CN 202310001234.7' }],
    ['number=EP%203%20456%20789%20A1', { type: 'publication', officeCode: 'EP', number: '3456789', kindCode: 'A1', raw: 'EP 3 456 789 A1', display: 'EP 3456789 A1' }],
    [`number=${encodeURIComponent('特願平22-001234')}`, { type: 'application', officeCode: 'JP', number: '2010001234', raw: '特願平22-001234', display: 'JP 2010-001234' }],
    ['number=3123456&officeCode=CA&kind=publication', { type: 'publication', officeCode: 'CA', number: '3123456', raw: '3123456', display: 'CA 3123456' }],
  ])('normalises %s', async (query, expected) => {
    const response = await get(query);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toStrictEqual(expected);
  });

  it('answers an unknown shape with 422 naming the expected forms', async () => {
    const response = await get('number=CN%202023100012');
    expect(response.statusCode).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json<Record<string, unknown>>();
    expect(problem).toMatchObject({
      status: 422,
      title: 'Unprocessable Content',
      errorCode: 'UNRECOGNISED_NUMBER',
      instance: '/v1/numbers/normalize',
      type: 'https://dossier-exchange.org/problems/unrecognised-number',
      detail: expect.stringContaining('CN YYYYTNNNNNNN.C (e.g. CN 202310001234.7)'),
    });
    expect(problem.expected).toContain('CN YYYYTNNNNNNN.C (e.g. CN 202310001234.7)');
  });

  it.each([
    ['number=ZZ%201234567', 'UNKNOWN_OFFICE_CODE', 'US 17/123,456'],
    ['number=EP%203456789%20A1&officeCode=US', 'OFFICE_MISMATCH', 'US SS/NNN,NNN'],
    ['number=US%2017%2F123%2C456&kind=publication', 'UNRECOGNISED_NUMBER', 'US YYYY/NNNNNNN K'],
    ['number=%20%20', 'UNRECOGNISED_NUMBER', 'PCT/CN2023/123456'],
  ])('answers %s with 422 %s', async (query, errorCode, named) => {
    const response = await get(query);
    expect(response.statusCode).toBe(422);
    const problem = response.json<{ errorCode: string; detail: string; expected: string[] }>();
    expect(problem.errorCode).toBe(errorCode);
    expect(problem.detail).toContain(named);
    expect(problem.expected.length).toBeGreaterThan(0);
  });

  it.each([
    ['', '/querystring/number'],
    ['officeCode=US', '/querystring/number'],
    ['number=', '/querystring/number'],
    [`number=${'1'.repeat(65)}`, '/querystring/number'],
    ['number=US17123456&kind=patent', '/querystring/kind'],
    ['number=17123456&officeCode=U', '/querystring/officeCode'],
  ])('refuses the malformed query %j with 400 naming %s', async (query, field) => {
    const response = await get(query);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json<{ errorCode: string; errors: { field: string }[] }>();
    expect(problem.errorCode).toBe('VALIDATION_FAILED');
    expect(problem.errors.map((error) => error.field)).toContain(field);
  });

  it('is described in the OpenAPI document as a public operation', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { operationId: string; tags: string[]; security: unknown[]; parameters: { name: string }[]; responses: Record<string, unknown> }>>;
    }>();
    const operation = document.paths['/v1/numbers/normalize']?.get;
    expect(operation).toMatchObject({ operationId: 'normalizeNumber', tags: ['numbers'], security: [] });
    expect(operation?.parameters.map((parameter) => parameter.name)).toEqual(['number', 'officeCode', 'kind']);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '422']));
    expect(operation?.responses['200']).toMatchObject({
      content: { 'application/json': { schema: { required: ['type', 'officeCode', 'number', 'raw', 'display'] } } },
    });
    expect(operation?.responses['422']).toMatchObject({ content: { 'application/problem+json': {} } });
    const validation = await new Validator().validate(document);
    expect(validation.errors ?? []).toEqual([]);
  });
});
