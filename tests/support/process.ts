import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Environment } from '../../src/platform/config.js';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts one of the hub's entry points (src/server.ts, src/worker.ts) as its own process. */
export function startProcess(entry: string, env: Environment): RunningProcess {
  return watched(spawn(process.execPath, ['--import', 'tsx', entry], { cwd: projectRoot, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A spawned process with its output collected and its exit awaited. */
function watched(child: ChildProcess): RunningProcess {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * Starts the hub as `npm start` does (the package's start script: bundle src/server.ts with esbuild, run the bundle
 * with node), with the bundle written to `outDir` (inside the project, for node_modules) so that runs do not share it.
 */
export function startBundledServer(env: Environment, outDir: string): RunningProcess {
  const script = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [build, run, ...rest] = script.split(' && ');
  const bundleDir = 'dist/hub';
  const bundle = `${bundleDir}/server.mjs`;
  if (build === undefined || run === undefined || rest.length > 0 || !build.includes(`--outdir=${bundleDir} `) || !run.endsWith(bundle)) {
    throw new Error(`the start script is no longer "<esbuild … --outdir=${bundleDir} …> && node … ${bundle}": ${script}`);
  }
  const outfile = path.join(outDir, 'server.mjs');
  const [esbuild, ...buildArgs] = build.replace(`--outdir=${bundleDir} `, `--outdir=${outDir} `).split(' ');
  execFileSync(path.join(projectRoot, 'node_modules/.bin', esbuild ?? 'esbuild'), buildArgs, { cwd: projectRoot, stdio: 'pipe' });
  const nodeArgs = run.split(' ').slice(1, -1);
  return watched(spawn(process.execPath, [...nodeArgs, outfile], { cwd: projectRoot, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Polls `url` until it answers `status` or the time runs out; returns the elapsed milliseconds. */
export async function waitForStatus(url: string, status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = 'no answer';
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await fetch(url);
      if (response.status === status) return Date.now() - started;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
