/**
 * DESIGN §8: bulk ingest of bibliographic data with priorities into PostgreSQL, at least 5,000 applications per
 * second with families kept current; and, for comparison, the time of a full recomputation of the families.
 *
 * BENCH_APPLICATIONS (default 1,000,000) applications with realistic priority patterns (tests/support/biblio-data.ts:
 * half lone national filings, Paris-route families over 2–5 offices, PCT families with 2–4 national phase entries,
 * US continuation chains; follow-ups often arrive before their first filing) are written as one NDJSON file per
 * office (US, EP, JP, CN, KR, WO) before the clock starts. A hub process on a fresh PostgreSQL database
 * (`dx_bench_families`) takes the files through POST /v1/applications/bulk, one stream per office's API client,
 * BENCH_CONCURRENCY at a time (default 2). When every response is in, every application is stored and its families
 * are current (each batch commits with its families): the figure is applications / wall time.
 *
 * The full recomputation loads every stored bibliographic record (applications with their priority claims) and runs
 * FamilyIndex.recompute over them; BENCH_VERIFY (default on) then checks that the incrementally maintained families
 * equal the recomputed ones (same partitions).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FamilyIndex } from '../src/dossier/families/family-index.js';
import { loadStoredFamilies, recomputeFamilies } from '../src/dossier/families/family-store.js';
import { entities } from '../src/entities.js';
import { openDatabase } from '../src/platform/database/database.js';
import { DATA_OFFICES, generateApplications, type DataOffice } from '../tests/support/biblio-data.js';
import { databaseUrl, withAdminClient } from '../tests/support/postgres.js';
import { BENCH_OPERATOR, providingClient, startHubProcess } from './lib/hub.js';
import { report } from './lib/report.js';

const APPLICATIONS = Number(process.env.BENCH_APPLICATIONS ?? 1_000_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const VERIFY = process.env.BENCH_VERIFY !== '0';
const DATABASE = 'dx_bench_families';

interface Summary {
  lines: number;
  accepted: number;
  rejected: number;
  errors: { line: number; errorCode: string; detail: string }[];
  families: Record<string, number>;
}

const seconds = (from: number): number => (performance.now() - from) / 1000;

/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere or once it is gone. */
async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds of the hub process and of the PostgreSQL backends serving its database (the benchmark's own work, whatever else runs). */
async function workCpu(hubPid: number): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  usage.set('hub', (await cpuSeconds(hubPid)) ?? Number.NaN);
  const backends = await withAdminClient(async (client) => (await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [DATABASE])).rows);
  for (const { pid } of backends) {
    const used = await cpuSeconds(pid);
    if (used !== null) usage.set(`pg:${pid}`, used);
  }
  return usage;
}

/** One NDJSON file per office, written line by line (never the whole data set in memory). */
async function writeFiles(directory: string): Promise<Map<DataOffice, { file: string; lines: number }>> {
  const files = new Map<DataOffice, { file: string; lines: number; out: ReturnType<typeof createWriteStream> }>();
  for (const office of DATA_OFFICES) {
    const file = path.join(directory, `${office}.ndjson`);
    files.set(office, { file, lines: 0, out: createWriteStream(file) });
  }
  for (const line of generateApplications({ applications: APPLICATIONS, seed: 2026 })) {
    const target = files.get(line.officeCode)!;
    target.lines += 1;
    if (!target.out.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((resolve) => target.out.once('drain', () => resolve()));
  }
  await Promise.all([...files.values()].map(({ out }) => new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))));
  return new Map([...files].map(([office, { file, lines }]) => [office, { file, lines }]));
}

async function ingest(base: string, token: string, file: string): Promise<Summary> {
  const response = await fetch(`${base}/v1/applications/bulk`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
    body: Readable.toWeb(createReadStream(file, { highWaterMark: 256 * 1024 })),
    duplex: 'half',
  });
  if (!response.ok) throw new Error(`ingest of ${file}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Summary;
}

const workDir = await mkdtemp(path.join(os.tmpdir(), 'dx-bench-families-'));
await withAdminClient(async (client) => {
  await client.query(`drop database if exists "${DATABASE}" with (force)`);
  await client.query(`create database "${DATABASE}"`);
});
const url = databaseUrl(DATABASE);

let started = performance.now();
const files = await writeFiles(workDir);
const bytes = (await Promise.all([...files.values()].map(({ file }) => stat(file)))).reduce((sum, info) => sum + info.size, 0);
const total = [...files.values()].reduce((sum, { lines }) => sum + lines, 0);
console.log(`generated ${total.toLocaleString('en')} applications (${(bytes / 1024 / 1024).toFixed(0)} MB of NDJSON) in ${seconds(started).toFixed(1)} s`);

// BENCH_HUB_NODE_OPTIONS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the hub process (bench/lib/hub.ts).
const hub = await startHubProcess({ DATA_DIR: workDir, DATABASE_URL: url, ...BENCH_OPERATOR });
try {
  const tokens = new Map<DataOffice, string>();
  for (const office of DATA_OFFICES) tokens.set(office, await providingClient(hub.base, office));

  // The measured part: every file through the bulk ingest, CONCURRENCY streams at a time.
  const queue = [...files.entries()].sort((a, b) => b[1].lines - a[1].lines);
  const summaries: Summary[] = [];
  const cpuBefore = await workCpu(hub.child.pid ?? 0);
  const loadBefore = os.loadavg()[0] ?? 0;
  started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [office, { file }] = next;
        const summary = await ingest(hub.base, tokens.get(office)!, file);
        console.log(`  ${office}: ${summary.accepted.toLocaleString('en')} accepted, ${summary.rejected} rejected at ${seconds(started).toFixed(1)} s`);
        summaries.push(summary);
      }
    }),
  );
  const ingestSeconds = seconds(started);
  const cpuAfter = await workCpu(hub.child.pid ?? 0);
  const load = ((os.loadavg()[0] ?? 0) + loadBefore) / 2;
  const used = (prefix: string) => [...cpuAfter].filter(([key]) => key.startsWith(prefix)).reduce((sum, [key, after]) => sum + after - (cpuBefore.get(key) ?? 0), 0);
  const hubCpu = used('hub');
  const postgresCpu = used('pg:');
  const accepted = summaries.reduce((sum, summary) => sum + summary.accepted, 0);
  const rejected = summaries.reduce((sum, summary) => sum + summary.rejected, 0);
  if (rejected > 0) throw new Error(`${rejected} lines rejected: ${JSON.stringify(summaries.flatMap((summary) => summary.errors).slice(0, 5))}`);
  const families = summaries.reduce<Record<string, number>>((sum, summary) => {
    for (const [key, value] of Object.entries(summary.families)) sum[key] = (sum[key] ?? 0) + value;
    return sum;
  }, {});
  console.log(`ingested ${accepted.toLocaleString('en')} applications in ${ingestSeconds.toFixed(1)} s: ${Math.round(accepted / ingestSeconds).toLocaleString('en')}/s; families ${JSON.stringify(families)}`);
  console.log(`CPU used: hub ${hubCpu.toFixed(1)} s, PostgreSQL ${postgresCpu.toFixed(1)} s; machine load average ${load.toFixed(1)} on ${os.cpus().length} CPUs`);

  // The full recomputation, from the stored records.
  const db = await openDatabase({ config: { driver: 'postgresql', url, poolMax: 2 }, entities });
  try {
    const em = db.fork();
    started = performance.now();
    const { index, loadMs, computeMs } = await recomputeFamilies(em);
    const recomputeSeconds = seconds(started);
    const snapshot = index.snapshot();
    const largest = snapshot.extended.reduce((max, members) => Math.max(max, members.length), 0);
    console.log(`recomputed ${snapshot.simple.length.toLocaleString('en')} simple and ${snapshot.extended.length.toLocaleString('en')} extended families (largest ${largest}) in ${recomputeSeconds.toFixed(1)} s`);

    let verified: boolean | null = null;
    if (VERIFY) {
      const stored = await loadStoredFamilies(em);
      const live = stored.families.filter((family) => family.status === 'live');
      const hydrated = FamilyIndex.hydrate(stored.applications, live, { newId: () => 'unused' });
      verified = JSON.stringify(hydrated.snapshot()) === JSON.stringify(snapshot) && stored.applications.length === accepted;
      console.log(`incrementally maintained families ${verified ? 'equal' : 'DIFFER FROM'} the recomputed ones`);
      if (!verified) process.exitCode = 1;
    }

    await report(
      'families-ingest',
      [
        { name: 'bulk ingest with families current (PostgreSQL)', value: accepted / ingestSeconds, unit: 'apps/s', target: { op: '>=', value: 5_000 } },
        { name: 'bulk ingest: wall time', value: ingestSeconds, unit: 's' },
        { name: 'bulk ingest: hub CPU per application', value: (hubCpu * 1e6) / accepted, unit: 'µs' },
        { name: 'bulk ingest: PostgreSQL CPU per application', value: (postgresCpu * 1e6) / accepted, unit: 'µs' },
        // What the same work would reach if it had the machine's cores to itself (CPU-bound: the busier of the two
        // processes, or both sharing the cores): an estimate, for runs on a machine other work keeps busy.
        { name: 'bulk ingest: CPU-bound capacity on these cores (estimate)', value: accepted / Math.max(hubCpu, postgresCpu, (hubCpu + postgresCpu) / os.cpus().length), unit: 'apps/s' },
        { name: 'full recomputation: load records from PostgreSQL', value: loadMs / 1000, unit: 's' },
        { name: 'full recomputation: FamilyIndex.recompute in memory', value: computeMs / 1000, unit: 's' },
        { name: 'full recomputation: total', value: recomputeSeconds, unit: 's' },
      ],
      {
        applications: accepted,
        ndjsonMegabytes: Math.round(bytes / 1024 / 1024),
        concurrency: CONCURRENCY,
        offices: Object.fromEntries([...files].map(([office, { lines }]) => [office, lines])),
        familyChanges: families,
        simpleFamilies: snapshot.simple.length,
        extendedFamilies: snapshot.extended.length,
        largestExtendedFamily: largest,
        verified,
        cpus: os.cpus().length,
        loadAverageDuringIngest: Number(load.toFixed(1)),
      },
    );
  } finally {
    await db.close();
  }
} finally {
  await hub.stop();
  await rm(workDir, { recursive: true, force: true });
  if (process.env.BENCH_KEEP_DATABASE !== '1') await withAdminClient((client) => client.query(`drop database if exists "${DATABASE}" with (force)`));
}
