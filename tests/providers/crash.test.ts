/**
 * DESIGN §9: an acknowledged deposit (receipt issued) is never lost, nor are its bytes changed, and no row points at a
 * missing blob — even when the server process is killed outright (SIGKILL) in the middle of 20 concurrent uploads.
 *
 * The hub runs as its own process (src/server.ts) on each profile's real state: PGlite on disk in DATA_DIR and
 * filesystem blobs (embedded), or PostgreSQL, S3 (s3rver) and Redis (services). Uploads use the raw variant over
 * node:http, streamed in chunks at different paces so that, when the kill comes, some have their receipt and others
 * are mid-flight. The hub is started again on the same state and every acknowledged deposit is checked through the
 * API (document, content SHA-256, receipt signature against the JWKS); then, with the hub stopped, every document row
 * is checked against the store directly.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { afterEach, expect, it } from 'vitest';
import { entities } from '../../src/entities.js';
import { loadConfig, type Environment } from '../../src/platform/config.js';
import { openDatabase } from '../../src/platform/database/database.js';
import { createBlobStore } from '../../src/platform/storage/index.js';
import { basic, OPERATOR, OPERATOR_ENV } from '../support/access.js';
import { biblio } from '../support/deposits.js';
import { describeEachProfile, provisionProfile } from '../support/hub.js';
import { freePort, startProcess, waitForStatus, type RunningProcess } from '../support/process.js';

const UPLOADS = 20;
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const NUMBER = '17123456';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A TIFF (as sniffed: the little-endian header) of random bytes: nothing to extract, every byte counts. */
function tiff(size: number): Buffer {
  const bytes = randomBytes(size);
  Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00]).copy(bytes);
  return bytes;
}

type Outcome =
  | { index: number; state: 'acknowledged'; documentId: string; receipt: string; sha256: string; size: number }
  | { index: number; state: 'refused'; status: number; body: string }
  | { index: number; state: 'cut'; error: string; sent: number; size: number };

interface Upload {
  index: number;
  size: number;
  sent: number;
  finished: boolean;
  done: Promise<Outcome>;
}

function drainedOrClosed(request: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });
}

/** One raw upload over node:http, written `CHUNK` bytes at a time with a pause between chunks. */
function startUpload(base: URL, token: string, index: number, bytes: Buffer, pauseMs: number): Upload {
  const upload: Upload = { index, size: bytes.length, sent: 0, finished: false, done: Promise.resolve(null as never) };
  upload.done = new Promise<Outcome>((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      upload.finished = true;
      resolve(outcome);
    };
    const request = http.request({
      host: base.hostname,
      port: base.port,
      method: 'POST',
      path: `/v1/applications/US/${NUMBER}/documents`,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'image/tiff',
        'content-length': String(bytes.length),
        'document-code': 'other',
        'document-date': '2023-01-02',
        'document-direction': 'incoming',
        'document-language': 'en',
        'document-title': encodeURIComponent(`Crash upload ${index}`),
      },
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => settle({ index, state: 'cut', error: String(error), sent: upload.sent, size: bytes.length }));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 201) {
          settle({ index, state: 'refused', status: response.statusCode ?? 0, body });
          return;
        }
        const answer = JSON.parse(body) as { document: { id: string; sha256: string }; receipt: string };
        settle({ index, state: 'acknowledged', documentId: answer.document.id, receipt: answer.receipt, sha256: answer.document.sha256, size: bytes.length });
      });
    });
    request.on('error', (error) => settle({ index, state: 'cut', error: error.message, sent: upload.sent, size: bytes.length }));
    void (async () => {
      for (let offset = 0; offset < bytes.length && !request.destroyed; offset += CHUNK) {
        const chunk = bytes.subarray(offset, offset + CHUNK);
        if (!request.write(chunk)) await drainedOrClosed(request);
        upload.sent += chunk.length;
        if (pauseMs > 0) await sleep(pauseMs);
      }
      if (!request.destroyed) request.end();
    })();
  });
  return upload;
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  expect(response.ok, `${response.status} ${text}`).toBe(true);
  return JSON.parse(text) as T;
}

describeEachProfile('an acknowledged deposit survives the server being killed (SIGKILL)', (profile) => {
  let running: RunningProcess | undefined;
  let release: (() => Promise<void>) | undefined;
  afterEach(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    await release?.();
    running = undefined;
    release = undefined;
  });

  it(`keeps every receipt's document and bytes across a SIGKILL during ${UPLOADS} concurrent uploads, and no row points at a missing blob`, { timeout: 480_000 }, async () => {
    const provisioned = await provisionProfile(profile, { embeddedOnDisk: true });
    release = provisioned.release;
    const env: Environment = { ...provisioned.env, ...OPERATOR_ENV, LOG_LEVEL: 'warn' };
    const start = async (): Promise<URL> => {
      const port = await freePort();
      const hubProcess = startProcess('src/server.ts', { ...env, PORT: String(port) });
      running = hubProcess;
      const base = new URL(`http://127.0.0.1:${port}`);
      const exited = hubProcess.exited.then((code) => {
        throw new Error(`the hub exited (${String(code)}) before it was ready:\n${hubProcess.output()}`);
      });
      try {
        await Promise.race([waitForStatus(new URL('/ready', base).href, 200, 120_000), exited]);
      } catch (error) {
        throw new Error(`${String(error)}\n--- hub output ---\n${hubProcess.output()}`);
      }
      exited.catch(() => undefined);
      return base;
    };

    // ----------------------------------------------------------------------------------- the hub and its office
    let base = await start();
    const api = (path: string, init: RequestInit = {}, token?: string): Promise<Response> =>
      fetch(new URL(path, base), {
        ...init,
        headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) },
      });
    const operator = (await json<{ accessToken: string }>(await api('/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: OPERATOR.username, password: OPERATOR.password }) }))).accessToken;
    await json(await api('/v1/offices', { method: 'POST', body: JSON.stringify({ code: 'US', name: 'Office US', roles: ['providing', 'accessing'], providerMode: 'repository' }) }, operator));
    const branch = await json<{ id: string }>(await api('/v1/offices/US/branches', { method: 'POST', body: JSON.stringify({ name: 'Uploads' }) }, operator));
    const created = await json<{ client: { id: string }; clientSecret: string }>(
      await api('/v1/offices/US/clients', { method: 'POST', body: JSON.stringify({ name: 'Crash uploader', branchId: branch.id, authMethod: 'client_secret_basic' }) }, operator),
    );
    const clientToken = async (): Promise<string> =>
      (
        await json<{ access_token: string }>(
          await api('/v1/auth/token', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(created.client.id, created.clientSecret) },
            body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
          }),
        )
      ).access_token;
    let token = await clientToken();
    await json(await api(`/v1/applications/US/${NUMBER}`, { method: 'PUT', body: JSON.stringify(biblio()) }, token));

    // ----------------------------------------------------------------------------------- 20 uploads, then SIGKILL
    const files = Array.from({ length: UPLOADS }, () => tiff(2 * MiB + Math.floor(Math.random() * 6 * MiB)));
    // Eight uploads flat out (their receipts come first), four over about 5 s (they may finish before the kill or
    // not), eight over about a minute (still streaming when the kill comes, whatever the machine's load).
    const pauses = files.map((bytes, index) => {
      const chunks = Math.ceil(bytes.length / CHUNK);
      return index < 8 ? 0 : Math.round((index < 12 ? 5_000 : 60_000) / chunks);
    });
    const uploads = files.map((bytes, index) => startUpload(base, token, index, bytes, pauses[index] ?? 0));
    const outcomes: Outcome[] = [];
    for (const upload of uploads) void upload.done.then((outcome) => outcomes.push(outcome));

    const deadline = Date.now() + 50_000;
    const acknowledgedSoFar = (): number => outcomes.filter((outcome) => outcome.state === 'acknowledged').length;
    const streaming = (): number => uploads.filter((upload) => !upload.finished && upload.sent > 0 && upload.sent < upload.size).length;
    while (!(acknowledgedSoFar() >= 6 && streaming() >= 3)) {
      if (Date.now() > deadline) throw new Error(`never had 6 receipts with 3 uploads in flight: ${JSON.stringify(outcomes)}`);
      await sleep(10);
    }
    const inFlightAtKill = streaming();
    const killed = running as RunningProcess;
    killed.child.kill('SIGKILL');
    expect(await killed.exited).toBeNull();
    const all = await Promise.all(uploads.map((upload) => upload.done));
    const acknowledged = all.filter((outcome): outcome is Extract<Outcome, { state: 'acknowledged' }> => outcome.state === 'acknowledged');
    const cut = all.filter((outcome) => outcome.state === 'cut');
    const refused = all.filter((outcome) => outcome.state === 'refused');
    console.info(
      `[${profile}] SIGKILL with ${inFlightAtKill} uploads streaming: ${acknowledged.length} acknowledged, ${cut.length} cut, ${refused.length} refused (of ${UPLOADS})`,
    );
    expect(refused, JSON.stringify(refused)).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(6);
    expect(cut.length).toBeGreaterThanOrEqual(1);
    for (const outcome of acknowledged) expect(outcome.sha256).toBe(sha256(files[outcome.index] as Buffer));

    // ----------------------------------------------------------------------------------- restart on the same state
    base = await start();
    token = await clientToken();
    const jwks = createLocalJWKSet(await json<JSONWebKeySet>(await api('/.well-known/jwks.json')));
    for (const outcome of acknowledged) {
      const expected = sha256(files[outcome.index] as Buffer);
      const document = await json<{ id: string; sha256: string; byteSize: number }>(await api(`/v1/documents/${outcome.documentId}`, {}, token));
      expect(document).toMatchObject({ id: outcome.documentId, sha256: expected, byteSize: outcome.size });
      const content = await api(`/v1/documents/${outcome.documentId}/content`, {}, token);
      expect(content.status).toBe(200);
      expect(sha256(Buffer.from(await content.arrayBuffer()))).toBe(expected);
      const { payload } = await compactVerify(outcome.receipt, jwks, { algorithms: ['EdDSA'] });
      expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ documentId: outcome.documentId, sha256: expected, byteSize: outcome.size, officeCode: 'US', applicationNumber: NUMBER });
    }

    // ----------------------------------------------------------------------------------- rows against the store
    // Stopped cleanly first: PGlite admits one process at a time.
    const restarted = running as RunningProcess;
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
    const config = loadConfig(env);
    const database = await openDatabase({ config: config.database, entities });
    const storage = await createBlobStore(config.storage);
    try {
      const rows = await database.fork().getConnection().execute<{ id: string; storage_key: string; sha256: string; byte_size: string | number }[]>(
        'select "id", "storage_key", "sha256", "byte_size" from "document"',
      );
      const ids = new Set(rows.map((row) => row.id));
      for (const outcome of acknowledged) expect(ids.has(outcome.documentId), `the row of acknowledged document ${outcome.documentId}`).toBe(true);
      for (const row of rows) {
        const stat = await storage.stat(row.storage_key);
        expect(stat, `blob of document ${row.id}`).not.toBeNull();
        expect(stat?.size).toBe(Number(row.byte_size));
        const hash = createHash('sha256');
        for await (const chunk of await storage.get(row.storage_key)) hash.update(chunk as Buffer);
        expect(hash.digest('hex'), `bytes of document ${row.id}`).toBe(row.sha256);
      }
      const keys = new Set(rows.map((row) => row.storage_key));
      let orphans = 0;
      for await (const blob of storage.list('documents/')) if (!keys.has(blob.key)) orphans += 1;
      console.info(
        `[${profile}] after restart: ${rows.length} document rows (${rows.length - acknowledged.length} committed without their answer reaching the client), every one with its blob; ${orphans} orphan blobs for the sweeper`,
      );
    } finally {
      await storage.close();
      await database.close();
    }
  });
});
