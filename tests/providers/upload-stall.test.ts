import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OPERATOR_ENV } from '../support/access.js';
import { depositState, depositUrl, METADATA, multipart, putBiblio, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

/**
 * A client that stops sending in the middle of an upload (document or package) is refused with 408 UPLOAD_STALLED
 * once UPLOAD_IDLE_TIMEOUT_MS has passed without a byte, on the filesystem store and on S3 alike (which would
 * otherwise wait for it and then fail with its own RequestTimeout), and nothing of it is stored.
 */
describeEachProfile('uploads: a client that stalls midway', (profile) => {
  const IDLE_MS = 400;
  const NUMBER = '17555555';
  let hub: TestHub;
  let world: DepositWorld;
  let port: number;
  beforeAll(async () => {
    hub = await startTestHub(profile, { ...OPERATOR_ENV, UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS) });
    world = await seedDepositWorld(hub.app);
    expect((await putBiblio(hub.app, world.us.client.token, 'US', NUMBER)).statusCode).toBe(201);
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    port = (hub.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** Everything an upload could leave behind: rows, document blobs, package zips. */
  async function stored(): Promise<unknown> {
    const packages: string[] = [];
    for await (const blob of hub.app.storage.list('packages/')) packages.push(blob.key);
    const [row] = await hub.app.db.fork().getConnection().execute<{ count: string | number }[]>('select count(*) as count from "package"');
    return { ...(await depositState(hub.app)), packages, packageRows: Number(row?.count ?? 0) };
  }

  /** Sends the headers and `sent` (part of the announced body), then nothing; resolves with the hub's answer and when it came. */
  const stall = (path: string, headers: Record<string, string | number>, sent: Buffer) =>
    new Promise<{ status: number; body: string; connection: string | undefined; afterMs: number }>((resolve, reject) => {
      let sentAt = 0;
      const request = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { authorization: `Bearer ${world.us.client.token}`, ...headers } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), connection: response.headers.connection, afterMs: performance.now() - sentAt });
          request.destroy();
        });
      });
      request.on('error', reject);
      request.write(sent, () => {
        sentAt = performance.now();
      });
    });

  const expectStalled = (answer: Awaited<ReturnType<typeof stall>>, what: string) => {
    expect(answer.status, answer.body).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 408, errorCode: 'UPLOAD_STALLED', detail: expect.stringContaining(what) });
    expect(answer.connection).toBe('close');
    // Refused once the client has been silent for the idle time, not at the request timeout (10 minutes).
    expect(answer.afterMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(answer.afterMs).toBeLessThan(IDLE_MS + 5_000);
  };

  it('refuses a raw document upload whose client stops sending, and stores nothing', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2 * 1024 * 1024)]);
    const before = await stored();
    const answer = await stall(
      depositUrl('US', NUMBER),
      { 'content-type': 'application/pdf', 'content-length': content.length, 'document-code': 'claims', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Claims' },
      content.subarray(0, 1024 * 1024),
    );
    expectStalled(answer, 'document');
    expect(await stored()).toEqual(before);
  });

  it('refuses a multipart document upload whose client stops sending inside the file part, and stores nothing', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2 * 1024 * 1024)]);
    const form = multipart([
      { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
      { name: 'file', value: content, filename: 'stalled.pdf', contentType: 'application/pdf' },
    ]);
    const before = await stored();
    const answer = await stall(depositUrl('US', NUMBER), { 'content-type': form.contentType, 'content-length': form.payload.length }, form.payload.subarray(0, form.payload.indexOf('%PDF-1.7') + 1024 * 1024));
    expectStalled(answer, 'document');
    expect(await stored()).toEqual(before);
  });

  it('refuses a package upload whose client stops sending, and stores nothing', async () => {
    const zip = Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), randomBytes(2 * 1024 * 1024)]);
    const before = await stored();
    const answer = await stall('/v1/packages', { 'content-type': 'application/zip', 'content-length': zip.length }, zip.subarray(0, 1024 * 1024));
    expectStalled(answer, 'package');
    expect(await stored()).toEqual(before);
  });

  it('takes an upload whose client pauses for less than the idle time between chunks', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(256 * 1024)]);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: depositUrl('US', NUMBER),
          headers: {
            authorization: `Bearer ${world.us.client.token}`,
            'content-type': 'application/pdf',
            'content-length': content.length,
            'document-code': 'claims',
            'document-date': '2023-03-04',
            'document-direction': 'incoming',
            'document-language': 'en',
            'document-title': 'Slow but steady',
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      request.on('error', reject);
      void (async () => {
        // Four pauses of half the idle time: their sum is well above it, each one below.
        for (let offset = 0; offset < content.length; offset += 64 * 1024) {
          request.write(content.subarray(offset, offset + 64 * 1024));
          await new Promise((wait) => setTimeout(wait, IDLE_MS / 2));
        }
        request.end();
      })();
    });
    expect(answer.status, answer.body).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ document: { byteSize: content.length, title: 'Slow but steady' } });
  });
});
