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
  // Long enough that a busy two-core machine (client and hub share this process) never looks like a stalled client.
  const IDLE_MS = 2_000;
  const LIMIT = 4 * 1024 * 1024;
  const NUMBER = '17555555';
  let hub: TestHub;
  let world: DepositWorld;
  let port: number;
  beforeAll(async () => {
    hub = await startTestHub(profile, { ...OPERATOR_ENV, UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS), UPLOAD_LIMIT_BYTES: String(LIMIT), PACKAGE_LIMIT_BYTES: String(LIMIT) });
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

  /**
   * Sends the headers and `sent` (part of the body, or all a chunked body will get), then nothing; resolves with the
   * hub's answer, when it came, and whether the hub closed the connection; the socket is left to the hub.
   */
  const stall = (path: string, headers: Record<string, string | number>, sent: Buffer) =>
    new Promise<{ status: number; body: string; connection: string | undefined; afterMs: number; closedByHub: Promise<boolean>; request: http.ClientRequest }>((resolve, reject) => {
      let sentAt = 0;
      const request = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { authorization: `Bearer ${world.us.client.token}`, ...headers } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const socket = request.socket;
          const closedByHub = socket === null || socket.destroyed
            ? Promise.resolve(true)
            : new Promise<boolean>((closed) => {
                socket.once('close', () => closed(true));
                setTimeout(() => closed(false), 2_000).unref();
              });
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), connection: response.headers.connection, afterMs: performance.now() - sentAt, closedByHub, request });
        });
      });
      request.on('error', () => undefined);
      request.once('error', reject);
      request.write(sent, () => {
        sentAt = performance.now();
      });
    });

  const expectStalled = async (answer: Awaited<ReturnType<typeof stall>>, what: string) => {
    expect(answer.status, answer.body).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 408, errorCode: 'UPLOAD_STALLED', detail: expect.stringContaining(what) });
    expect(answer.connection).toBe('close');
    expect(await answer.closedByHub).toBe(true);
    // Refused once the client has been silent for the idle time, not at the request timeout (10 minutes).
    expect(answer.afterMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(answer.afterMs).toBeLessThan(IDLE_MS + 8_000);
  };

  it('refuses a raw document upload whose client stops sending, and stores nothing', async () => {
    const content = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2 * 1024 * 1024)]);
    const before = await stored();
    const answer = await stall(
      depositUrl('US', NUMBER),
      { 'content-type': 'application/pdf', 'content-length': content.length, 'document-code': 'claims', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Claims' },
      content.subarray(0, 1024 * 1024),
    );
    await expectStalled(answer, 'document');
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
    await expectStalled(answer, 'document');
    expect(await stored()).toEqual(before);
  });

  it('refuses a multipart document upload whose client stops sending before the file part begins, and stores nothing', async () => {
    const form = multipart([
      { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
      { name: 'file', value: Buffer.from('%PDF-1.7\n'), filename: 'never.pdf', contentType: 'application/pdf' },
    ]);
    const before = await stored();
    // Half of the metadata part, then nothing.
    const answer = await stall(depositUrl('US', NUMBER), { 'content-type': form.contentType, 'content-length': form.payload.length }, form.payload.subarray(0, form.payload.indexOf('"documentCode"') + 5));
    await expectStalled(answer, 'document');
    expect(await stored()).toEqual(before);
  });

  it('refuses a package upload whose client stops sending, and stores nothing', async () => {
    const zip = Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), randomBytes(2 * 1024 * 1024)]);
    const before = await stored();
    const answer = await stall('/v1/packages', { 'content-type': 'application/zip', 'content-length': zip.length }, zip.subarray(0, 1024 * 1024));
    await expectStalled(answer, 'package');
    expect(await stored()).toEqual(before);
  });

  it('outlives a client that stays silent, then goes away, after its upload was refused for its size (413)', { timeout: 30_000 }, async () => {
    // Chunked: the size is only known as the bytes come. The store gives up at the limit and reads no more; the
    // rest of the upload, its silence and its disconnect must not reach anyone as an unhandled error.
    const over = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(LIMIT + 512 * 1024)]);
    const zip = Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), randomBytes(LIMIT + 512 * 1024)]);
    const before = await stored();
    for (const [path, headers, body] of [
      [depositUrl('US', NUMBER), { 'content-type': 'application/pdf', 'document-code': 'claims', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Too big' }, over],
      ['/v1/packages', { 'content-type': 'application/zip' }, zip],
    ] as const) {
      const answer = await stall(path, { ...headers, 'transfer-encoding': 'chunked' }, body);
      expect(answer.status, answer.body).toBe(413);
      await new Promise((wait) => setTimeout(wait, IDLE_MS + 1_000));
      answer.request.destroy();
      await new Promise((wait) => setTimeout(wait, 200));
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    }
    expect(await stored()).toEqual(before);
  });

  it('takes an upload whose client pauses for less than the idle time between chunks', { timeout: 30_000 }, async () => {
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
        // Five pauses of a quarter of the idle time: more than it in all, each one well below it.
        for (let offset = 0; offset < content.length; offset += 64 * 1024) {
          request.write(content.subarray(offset, offset + 64 * 1024));
          await new Promise((wait) => setTimeout(wait, IDLE_MS / 4));
        }
        request.end();
      })();
    });
    expect(answer.status, answer.body).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ document: { byteSize: content.length, title: 'Slow but steady' } });
  });
});
