/**
 * Loads the browse benchmark's dataset into PostgreSQL with COPY:
 *   npx tsx bench/generate-dataset.ts [--small] [--fresh]
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server, BENCH_DATABASE (default
 * dx_bench) the database it creates; BENCH_APPLICATIONS (default 1,000,000; --small: 10,000) and
 * BENCH_DOCUMENTS_PER_APPLICATION (default 10) the counts. A dataset of the same counts is reused unless --fresh.
 */
import { BENCH_ADMIN_URL, BENCH_DATABASE, datasetCounts, ensureDataset } from './lib/dataset.js';

const small = process.argv.includes('--small');
const fresh = process.argv.includes('--fresh');
const dataset = await ensureDataset({ adminUrl: BENCH_ADMIN_URL, database: BENCH_DATABASE, ...datasetCounts(small), fresh });
console.log(`${dataset.url}: ${dataset.applications} applications, ${dataset.documents} documents${dataset.loadSeconds > 0 ? `, loaded in ${dataset.loadSeconds.toFixed(1)} s` : ''}`);
