import { fork } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXTRACTION_LIMITS } from '../../src/providers/text-extraction.js';
import { describeEachProfile, profileAvailable, provisionProfile } from '../support/hub.js';
import { buildPdf } from '../support/pdf.js';
import { freePort, projectRoot, startBundledServer, startProcess, waitForStatus, type RunningProcess } from '../support/process.js';

describeEachProfile('the hub as a process', (profile) => {
  let running: RunningProcess | undefined;
  let release: (() => Promise<void>) | undefined;
  afterEach(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    await release?.();
    running = undefined;
  });

  it('starts as `npm start` does from a fresh data directory, serves, and shuts down gracefully on SIGTERM', { timeout: 60_000 }, async () => {
    const provisioned = await provisionProfile(profile, { embeddedOnDisk: true });
    // Inside the project: the bundle imports its packages from node_modules, found upwards from where it lies.
    await mkdir(path.join(projectRoot, '.tmp'), { recursive: true });
    const bundleDir = await mkdtemp(path.join(projectRoot, '.tmp', 'bundle-'));
    release = async () => {
      await provisioned.release();
      await rm(bundleDir, { recursive: true, force: true });
    };
    const port = await freePort();
    running = startBundledServer({ ...provisioned.env, PORT: String(port), LOG_LEVEL: 'info' }, bundleDir);
    const base = `http://127.0.0.1:${port}`;

    // DESIGN: ready within 10 s with no service installed; the bound here is looser so a loaded CI machine does not flake.
    const readyAfterMs = await waitForStatus(`${base}/ready`, 200, 30_000);
    console.info(`[${profile}] ready ${readyAfterMs} ms after spawn`);
    const offices = await fetch(`${base}/v1/offices`);
    expect(offices.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await offices.json()).toEqual({ items: [] });

    // A request still arriving when SIGTERM comes: its body is half sent. Login is public and
    // needs its whole body before it can answer, so the answer proves the request was finished.
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const body = JSON.stringify({ username: 'examiner@ep', password: 'not the password' });
    socket.write(`POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));

    running.child.kill('SIGTERM');
    // New connections are refused once shutdown begins...
    await expect.poll(async () => fetch(`${base}/health`).then(() => 'accepted', () => 'refused'), { timeout: 5_000 }).toBe('refused');
    // ...while the one in flight still gets its answer.
    socket.write(body.slice(10));
    await new Promise<void>((resolve) => socket.once('end', () => resolve()));
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"errorCode":"INVALID_CREDENTIALS"');

    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('hub shut down cleanly');

    // Beside the server, the bundle holds the PDF reader its text extraction starts for each PDF (pdf-reader.ts).
    const reader = fork(path.join(bundleDir, 'pdf-worker.mjs'), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    try {
      const answer = new Promise<unknown>((resolve, reject) => {
        reader.once('message', resolve);
        reader.once('error', reject);
        reader.once('exit', (code) => reject(new Error(`the bundled PDF reader exited (${code}) without an answer`)));
      });
      reader.send({ data: new Uint8Array(buildPdf([['Bundled reader reads this']])), limits: DEFAULT_EXTRACTION_LIMITS });
      expect(await answer).toEqual({ result: { text: 'Bundled reader reads this', truncated: false, pages: 1 } });
    } finally {
      reader.kill('SIGKILL');
    }
  });
});

describe('the worker process', () => {
  it('refuses to start without Redis, naming REDIS_URL', { timeout: 30_000 }, async () => {
    const worker = startProcess('src/worker.ts', { LOG_LEVEL: 'silent' });
    expect(await worker.exited).toBe(78);
    expect(worker.output()).toContain('set REDIS_URL');
  });

  it.skipIf(!profileAvailable('services'))('runs against the services profile and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    const provisioned = await provisionProfile('services');
    try {
      const worker = startProcess('src/worker.ts', { ...provisioned.env, LOG_LEVEL: 'info' });
      await expect.poll(() => worker.output(), { timeout: 30_000, interval: 100 }).toContain('worker is processing jobs');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toContain('worker shut down cleanly');
    } finally {
      await provisioned.release();
    }
  });
});
