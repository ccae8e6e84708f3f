/**
 * DESIGN §8: on PostgreSQL holding 1M applications and 10M documents, the dossier list of an application
 * (authenticated) has p99 under 25 ms at 50 connections and at least 40% of the throughput of a bare Fastify route
 * serving the same JSON from memory, in the same run; a number lookup in any accepted spelling has p99 under 10 ms.
 *
 * The dataset is loaded first if needed (bench/lib/dataset.ts; BENCH_APPLICATIONS, BENCH_DOCUMENTS_PER_APPLICATION,
 * `--small` for 10,000 applications). The hub runs as its own process on that database (no S3, no Redis); the reader
 * is an examiner of JP, an accessing office, so every list goes through the visibility predicate. Each measurement is
 * autocannon with BENCH_CONNECTIONS (50) connections for BENCH_SECONDS (10) seconds:
 * (a) the bare route, (b) the dossier lists of random applications of other offices, (c) GET /v1/applications?number=
 * with random spellings of application and publication numbers.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import pg from 'pg';
import { applicationSpelling, BENCH_ADMIN_URL, BENCH_DATABASE, datasetCounts, ensureDataset, READER_OFFICE } from './lib/dataset.js';
import { BENCH_OPERATOR, call, projectRoot, startHubProcess } from './lib/hub.js';
import { report, type Figure } from './lib/report.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SAMPLE = 5000;

const counts = datasetCounts(process.argv.includes('--small'));
const dataset = await ensureDataset({ adminUrl: BENCH_ADMIN_URL, database: BENCH_DATABASE, ...counts });

/** Random applications of the providing offices (not the reader's), published, with their spellings. */
async function sample(): Promise<{ listPaths: string[]; numbers: string[] }> {
  const client = new pg.Client({ connectionString: dataset.url });
  await client.connect();
  try {
    const listPaths: string[] = [];
    const numbers: string[] = [];
    for (let k = 0; k < SAMPLE; k += 1) {
      const i = Math.floor(Math.random() * dataset.applications);
      if (i % 50 === 7) continue; // unpublished: a 404 for the reader
      const spelling = applicationSpelling(i);
      listPaths.push(`/v1/applications/${spelling.office}/${encodeURIComponent(spelling.application)}/documents`);
      numbers.push(k % 2 === 0 ? spelling.application : spelling.publication);
    }
    // A sanity check against the database: the sampled applications exist.
    const first = listPaths[0] ?? '';
    const { rows } = await client.query<{ n: string }>('select count(*) as n from "application"');
    if (Number(rows[0]?.n) !== dataset.applications) throw new Error(`dataset has ${rows[0]?.n ?? 0} applications, expected ${dataset.applications} (${first})`);
    return { listPaths, numbers };
  } finally {
    await client.end();
  }
}

/** An examiner of the reading office, through the API as an operator and the office's administrator would set one up. */
async function readerToken(base: string): Promise<string> {
  const login = (username: string, password: string) => call<{ accessToken: string }>(base, 'POST', '/v1/auth/login', undefined, { username, password });
  const operator = (await login(BENCH_OPERATOR.OPERATOR_USERNAME, BENCH_OPERATOR.OPERATOR_PASSWORD)).accessToken;
  const adminName = `${READER_OFFICE.toLowerCase()}-bench-admin`;
  const adminPassword = 'bench admin password';
  // One administrator per office: created on the first run over this database, reused after.
  const created = await fetch(`${base}/v1/offices/${READER_OFFICE}/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: adminName, role: 'officeAdmin', password: adminPassword }),
  });
  if (created.status !== 201 && created.status !== 409) throw new Error(`office admin: ${created.status} ${await created.text()}`);
  const admin = (await login(adminName, adminPassword)).accessToken;
  const tag = Date.now().toString(36);
  const branch = await call<{ id: string }>(base, 'POST', `/v1/offices/${READER_OFFICE}/branches`, admin, { name: `Bench ${tag}` });
  const username = `bench-examiner-${tag}`;
  await call(base, 'POST', `/v1/offices/${READER_OFFICE}/users`, admin, { username, password: 'bench examiner password', branchId: branch.id });
  return (await login(username, 'bench examiner password')).accessToken;
}

interface Measured {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function measure(name: string, url: string, paths: string[] | null, token?: string): Promise<Measured> {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers,
    ...(paths
      ? {
          requests: [
            {
              method: 'GET',
              setupRequest: (request) => ({ ...request, path: paths[Math.floor(Math.random() * paths.length)] ?? '/' }),
            },
          ],
        }
      : {}),
  });
  const measured = {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  console.log(`${name}: ${measured.requestsPerSecond.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, non-2xx ${measured.non2xx}, errors ${measured.errors}`);
  return measured;
}

/** Starts the bare Fastify route in its own process, serving `file`. */
async function startBare(file: string): Promise<{ base: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench/lib/bare-server.ts'), file], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

const { listPaths, numbers } = await sample();
const workDir = await mkdtemp(path.join(os.tmpdir(), 'dx-bench-browse-'));
// A fixed HUB_SECRET: the signing keys persist in the reused database, encrypted with it.
const hub = await startHubProcess({ DATA_DIR: workDir, DATABASE_URL: dataset.url, HUB_SECRET: 'dossier-exchange-browse-benchmark-hub-secret', ...BENCH_OPERATOR, ...(process.env.DATABASE_POOL_MAX ? { DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX } : {}), ...(process.env.PRINCIPAL_CACHE_SECONDS ? { PRINCIPAL_CACHE_SECONDS: process.env.PRINCIPAL_CACHE_SECONDS } : {}) });
let bare: { base: string; stop(): Promise<void> } | undefined;
try {
  const token = await readerToken(hub.base);
  // The JSON of one dossier list, for the baseline, and a check that lists and lookups answer what they should.
  const listResponse = await fetch(`${hub.base}${listPaths[0] ?? ''}`, { headers: { authorization: `Bearer ${token}` } });
  const listBody = await listResponse.text();
  if (listResponse.status !== 200) throw new Error(`dossier list: ${listResponse.status} ${listBody}`);
  const items = (JSON.parse(listBody) as { items: unknown[] }).items.length;
  const lookup = await fetch(`${hub.base}/v1/applications?number=${encodeURIComponent(numbers[1] ?? '')}`, { headers: { authorization: `Bearer ${token}` } });
  const lookupBody = (await lookup.json()) as { items: unknown[] };
  if (lookup.status !== 200 || lookupBody.items.length !== 1) throw new Error(`number lookup of ${numbers[1] ?? ''}: ${lookup.status} ${JSON.stringify(lookupBody)}`);
  const file = path.join(workDir, 'list.json');
  await writeFile(file, listBody);
  bare = await startBare(file);

  // Warm both up (JIT, connection pools, the database's caches), then measure.
  await measure('warm-up bare', `${bare.base}/list`, null);
  await measure('warm-up list', hub.base, listPaths, token);
  await measure('warm-up lookup', hub.base, numbers.map((number) => `/v1/applications?number=${encodeURIComponent(number)}`), token);
  const baseline = await measure('bare route', `${bare.base}/list`, null);
  const list = await measure('dossier list', hub.base, listPaths, token);
  const byNumber = await measure('number lookup', hub.base, numbers.map((number) => `/v1/applications?number=${encodeURIComponent(number)}`), token);

  // Whether the caller was known from the principal cache (docs/auth.md) or asked of the database.
  const metrics = await (await fetch(`${hub.base}/metrics`)).text();
  const lookups = (result: string) => Number(new RegExp(`^dx_principal_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
  const principalLookups = { hit: lookups('hit'), miss: lookups('miss'), bypass: lookups('bypass') };
  console.log(`principal lookups: ${JSON.stringify(principalLookups)}`);

  const figures: Figure[] = [
    { name: 'bare Fastify route, same JSON from memory, req/s', value: baseline.requestsPerSecond, unit: 'req/s' },
    { name: 'bare route p99', value: baseline.p99, unit: 'ms' },
    { name: `dossier list (${items} documents each), req/s`, value: list.requestsPerSecond, unit: 'req/s' },
    { name: 'dossier list p50', value: list.p50, unit: 'ms' },
    { name: 'dossier list p99', value: list.p99, unit: 'ms', target: { op: '<', value: 25 } },
    { name: 'dossier list throughput / bare route', value: list.requestsPerSecond / baseline.requestsPerSecond, unit: 'ratio', target: { op: '>=', value: 0.4 } },
    { name: 'number lookup, req/s', value: byNumber.requestsPerSecond, unit: 'req/s' },
    { name: 'number lookup p50', value: byNumber.p50, unit: 'ms' },
    { name: 'number lookup p99', value: byNumber.p99, unit: 'ms', target: { op: '<', value: 10 } },
  ];
  await report('browse', figures, {
    applications: dataset.applications,
    documents: dataset.documents,
    loadSeconds: dataset.loadSeconds,
    connections: CONNECTIONS,
    seconds: SECONDS,
    cpus: os.cpus().length,
    // Everything (PostgreSQL, the hub, autocannon, the baseline) shares these cores: other work on the machine shows here.
    loadAverage: os.loadavg(),
    principalLookups,
    errors: { list: list.errors + list.non2xx, lookup: byNumber.errors + byNumber.non2xx, bare: baseline.errors + baseline.non2xx },
  });
  if (list.non2xx + list.errors + byNumber.non2xx + byNumber.errors > 0) throw new Error('some requests failed');
} finally {
  // Requests autocannon gave up on at the end may still be queued for a database connection: let them drain first.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await bare?.stop();
  await hub.stop();
  await rm(workDir, { recursive: true, force: true });
}
