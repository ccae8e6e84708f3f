import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Environment } from '../../src/platform/config.js';

/** The operator every access suite starts with (OPERATOR_USERNAME / OPERATOR_PASSWORD). */
export const OPERATOR = { username: 'hub-operator', password: 'correct horse battery staple' };
export const OPERATOR_ENV: Environment = { OPERATOR_USERNAME: OPERATOR.username, OPERATOR_PASSWORD: OPERATOR.password };

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
  /** The caller's address (per-IP limits). */
  ip?: string;
}

/** One request through `app.inject`, as a caller with an optional bearer token. */
export function call(app: FastifyInstance, method: Method, url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const request: InjectOptions = { method, url, headers, ...(options.ip !== undefined ? { remoteAddress: options.ip } : {}) };
  if (options.body !== undefined) request.payload = options.body as InjectOptions['payload'];
  return app.inject(request);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errorCode: string;
  requestId: string;
  [extension: string]: unknown;
}

/** Asserts a problem+json answer with this status and errorCode, and returns it. */
export function expectProblem(response: LightMyRequestResponse, status: number, errorCode: string): Problem {
  expect(response.headers['content-type'], response.body).toMatch(/^application\/problem\+json/);
  const problem = response.json<Problem>();
  expect({ status: response.statusCode, errorCode: problem.errorCode }, response.body).toEqual({ status, errorCode });
  expect(problem.status).toBe(status);
  expect(problem.requestId).toBe(response.headers['x-request-id']);
  return problem;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export async function login(app: FastifyInstance, username: string, password: string, ip?: string): Promise<Tokens> {
  const response = await call(app, 'POST', '/v1/auth/login', { body: { username, password }, ...(ip !== undefined ? { ip } : {}) });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Tokens>();
}

export async function operatorToken(app: FastifyInstance): Promise<string> {
  return (await login(app, OPERATOR.username, OPERATOR.password)).accessToken;
}

export interface Person {
  id: string;
  username: string;
  password: string;
  token: string;
}

export interface SeededOffice {
  code: string;
  admin: Person;
  branches: { id: string; name: string }[];
  /** One examiner per branch, in branch order. */
  examiners: Person[];
}

let seedCounter = 0;

/**
 * An office as the operator admits it: the office, its administrator (with a password), `branches`
 * branches each with one examiner; everyone logged in.
 */
export async function seedOffice(
  app: FastifyInstance,
  operator: string,
  office: { code: string; roles?: ('providing' | 'accessing')[]; providerMode?: 'repository' | 'webService' | null; branches?: number },
): Promise<SeededOffice> {
  const roles = office.roles ?? ['providing', 'accessing'];
  const created = await call(app, 'POST', '/v1/offices', {
    token: operator,
    body: { code: office.code, name: `Office ${office.code}`, roles, providerMode: office.providerMode ?? (roles.includes('providing') ? 'repository' : null) },
  });
  expect(created.statusCode, created.body).toBe(201);
  const code = office.code;
  const tag = `${code.toLowerCase()}${++seedCounter}`;
  const adminPassword = `admin password of ${tag}!`;
  const admin = await call(app, 'POST', `/v1/offices/${code}/users`, { token: operator, body: { username: `${tag}-admin`, role: 'officeAdmin', password: adminPassword } });
  expect(admin.statusCode, admin.body).toBe(201);
  const adminToken = (await login(app, `${tag}-admin`, adminPassword)).accessToken;

  const branches: { id: string; name: string }[] = [];
  const examiners: Person[] = [];
  for (let index = 0; index < (office.branches ?? 2); index += 1) {
    const branch = await call(app, 'POST', `/v1/offices/${code}/branches`, { token: adminToken, body: { name: `Branch ${index + 1}` } });
    expect(branch.statusCode, branch.body).toBe(201);
    const { id, name } = branch.json<{ id: string; name: string }>();
    branches.push({ id, name });
    const username = `${tag}-examiner${index + 1}`;
    const password = `examiner password ${index + 1}!`;
    const user = await call(app, 'POST', `/v1/offices/${code}/users`, { token: adminToken, body: { username, password, branchId: id } });
    expect(user.statusCode, user.body).toBe(201);
    examiners.push({ id: user.json<{ user: { id: string } }>().user.id, username, password, token: (await login(app, username, password)).accessToken });
  }
  return {
    code,
    admin: { id: admin.json<{ user: { id: string } }>().user.id, username: `${tag}-admin`, password: adminPassword, token: adminToken },
    branches,
    examiners,
  };
}

/** An API client with a secret, and a token obtained with it. */
export async function createSecretClient(app: FastifyInstance, adminToken: string, officeCode: string, branchId: string, name = 'Bulk uploader') {
  const created = await call(app, 'POST', `/v1/offices/${officeCode}/clients`, { token: adminToken, body: { name, branchId, authMethod: 'client_secret_basic' } });
  expect(created.statusCode, created.body).toBe(201);
  const { client, clientSecret } = created.json<{ client: { id: string }; clientSecret: string }>();
  return { id: client.id, secret: clientSecret };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST /v1/auth/token with a form body. */
export function tokenRequest(app: FastifyInstance, form: Record<string, string>, authorization?: string, ip?: string): Promise<LightMyRequestResponse> {
  return call(app, 'POST', '/v1/auth/token', {
    body: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization !== undefined ? { authorization } : {}) },
    ...(ip !== undefined ? { ip } : {}),
  });
}

export async function clientToken(app: FastifyInstance, clientId: string, secret: string): Promise<string> {
  const response = await tokenRequest(app, { grant_type: 'client_credentials' }, basic(clientId, secret));
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ access_token: string }>().access_token;
}
