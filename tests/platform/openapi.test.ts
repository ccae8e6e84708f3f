import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialiseOpenApiDocument } from '../../src/platform/openapi-document.js';
import { startTestHub, type TestHub } from '../support/hub.js';

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  security?: unknown[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
}
type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe('OpenAPI document', () => {
  let hub: TestHub;
  let served: OpenApiDocument;
  beforeAll(async () => {
    hub = await startTestHub('embedded');
    served = (await hub.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>();
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(served.openapi).toBe('3.1.0');
    const result = await new Validator().validate(served);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('equals the committed openapi/openapi.json (run `npm run openapi` after changing routes)', async () => {
    const committed = await readFile(path.resolve(import.meta.dirname, '../../openapi/openapi.json'), 'utf8');
    expect(serialiseOpenApiDocument(served)).toBe(committed);
  });

  it('gives every operation an operationId, tags, a summary, a security requirement and problem+json errors', () => {
    const operationIds = new Set<string>();
    for (const [route, methods] of Object.entries(served.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${route}`;
        expect(operation.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        expect(operationIds.has(operation.operationId ?? ''), `${where} repeats an operationId`).toBe(false);
        operationIds.add(operation.operationId ?? '');
        expect(operation.tags?.length, where).toBeGreaterThan(0);
        expect(operation.summary, where).toBeTruthy();
        expect(Array.isArray(operation.security), `${where} declares security`).toBe(true);
        for (const [status, response] of Object.entries(operation.responses ?? {})) {
          if (Number(status) >= 400) expect(Object.keys(response.content ?? {}), `${where} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('serves a reference UI at /docs', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger');
  });
});
