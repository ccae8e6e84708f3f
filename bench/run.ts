/**
 * Runs the benchmarks (all, or those named): npm run bench [-- name ...]. Each benchmark
 * measures the hub against a baseline in the same run and reports ratios (DESIGN §8).
 * Benchmarks are programs, not tests: they never run in `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const directory = import.meta.dirname;
const available = (await readdir(directory)).filter((file) => file.endsWith('.bench.ts')).map((file) => file.replace(/\.bench\.ts$/, ''));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : available) {
  console.log(`\n=== ${name}`);
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(directory, `${name}.bench.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
