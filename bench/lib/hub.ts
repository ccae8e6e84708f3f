import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../tests/support/process.js';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

export interface HubProcess {
  base: string;
  child: ChildProcess;
  /** Resident set size of the hub process, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

/**
 * Starts `src/server.ts` as its own process (so its memory is its own) and waits for /ready. BENCH_HUB_NODE_OPTIONS
 * adds Node options to the hub, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
 */
export async function startHubProcess(env: Record<string, string>): Promise<HubProcess> {
  const port = await freePort();
  const nodeOptions = (process.env.BENCH_HUB_NODE_OPTIONS ?? '').split(' ').filter((option) => option !== '');
  const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', 'src/server.ts'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 60_000) throw new Error('hub not ready within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    base,
    child,
    rss: () => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(child.pid)]).toString().trim()) * 1024,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function call<T>(base: string, method: string, url: string, token: string | undefined, body?: unknown): Promise<T> {
  return json<T>(
    await fetch(`${base}${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }),
    `${method} ${url}`,
  );
}

export const BENCH_OPERATOR = { OPERATOR_USERNAME: 'bench-operator', OPERATOR_PASSWORD: 'bench operator password' };

/** A providing office with an API client, through the API as an operator would set it up; returns the client's token. */
export async function providingClient(base: string, officeCode: string): Promise<string> {
  const login = (username: string, password: string) => call<{ accessToken: string }>(base, 'POST', '/v1/auth/login', undefined, { username, password });
  const operator = (await login(BENCH_OPERATOR.OPERATOR_USERNAME, BENCH_OPERATOR.OPERATOR_PASSWORD)).accessToken;
  await call(base, 'POST', '/v1/offices', operator, { code: officeCode, name: `Office ${officeCode}`, roles: ['providing', 'accessing'], providerMode: 'repository' });
  const adminPassword = 'bench admin password';
  await call(base, 'POST', `/v1/offices/${officeCode}/users`, operator, { username: `${officeCode}-admin`, role: 'officeAdmin', password: adminPassword });
  const admin = (await login(`${officeCode}-admin`, adminPassword)).accessToken;
  const branch = await call<{ id: string }>(base, 'POST', `/v1/offices/${officeCode}/branches`, admin, { name: 'Bench branch' });
  const { client, clientSecret } = await call<{ client: { id: string }; clientSecret: string }>(base, 'POST', `/v1/offices/${officeCode}/clients`, admin, {
    name: 'Bench uploader',
    branchId: branch.id,
    authMethod: 'client_secret_basic',
  });
  const token = await json<{ access_token: string }>(
    await fetch(`${base}/v1/auth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    }),
    'client token',
  );
  return token.access_token;
}
