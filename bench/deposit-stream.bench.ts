/**
 * DESIGN §8: streaming a 200 MB document in and out through the API reaches at least 70% (in)
 * and 80% (out) of the minio client talking to the same S3 store directly, in the same run; and
 * the server's memory grows by less than 64 MB with 10 such uploads at once.
 *
 * The store is s3rver (the only S3 server here). Its lack of ListMultipartUploads means the
 * direct baseline uses the minio client's explicit multipart calls, as the hub's driver does,
 * with the same part size. Sizes: BENCH_DOCUMENT_MB (default 200), BENCH_CONCURRENT (default 10); BENCH_ROUNDS
 * (default 3) rounds of each measurement, reported as medians.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'minio';
import { startS3rver } from '../tests/support/s3rver.js';
import { BENCH_OPERATOR, call, providingClient, startHubProcess } from './lib/hub.js';
import { report } from './lib/report.js';

const MB = 1024 * 1024;
const DOCUMENT_BYTES = Number(process.env.BENCH_DOCUMENT_MB ?? 200) * MB;
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 10);
/** The hub's default S3_PART_SIZE_MB, used by the direct baseline too. */
const PART_SIZE = 5 * MB;
/** Rounds of each measurement, whose median is reported (more on a noisy machine). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 3000);

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function writeDocument(file: string): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const header = Buffer.from('%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n');
  hash.update(header);
  out.write(header);
  let written = header.length;
  const chunk = randomBytes(4 * MB);
  while (written < DOCUMENT_BYTES) {
    const part = chunk.subarray(0, Math.min(chunk.length, DOCUMENT_BYTES - written));
    hash.update(part);
    if (!out.write(part)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    written += part.length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest('hex');
}

/** The baseline: the minio client's multipart calls, part by part from the file. */
async function directPut(client: Client, bucket: string, key: string, file: string): Promise<void> {
  const uploadId = await client.initiateNewMultipartUpload(bucket, key, { 'Content-Type': 'application/pdf' });
  const handle = await open(file);
  const parts: { part: number; etag: string }[] = [];
  try {
    const buffer = Buffer.alloc(PART_SIZE);
    for (let part = 1, offset = 0; offset < DOCUMENT_BYTES; part += 1) {
      const { bytesRead } = await handle.read(buffer, 0, PART_SIZE, offset);
      const uploaded = await client.uploadPart({ bucketName: bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} }, buffer.subarray(0, bytesRead));
      parts.push({ part, etag: uploaded.etag });
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  await client.completeMultipartUpload(bucket, key, uploadId, parts);
}

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const workDir = await mkdtemp(path.join(os.tmpdir(), 'dx-bench-'));
const s3 = await startS3rver('bench');
const hub = await startHubProcess({
  DATA_DIR: workDir,
  ...BENCH_OPERATOR,
  S3_ENDPOINT: `http://${s3.endPoint}:${s3.port}`,
  S3_BUCKET: s3.bucket,
  S3_ACCESS_KEY: s3.accessKey,
  S3_SECRET_KEY: s3.secretKey,
  UPLOAD_LIMIT_BYTES: String(DOCUMENT_BYTES + MB),
});
try {
  const file = path.join(workDir, 'document.pdf');
  const sha256 = await writeDocument(file);
  const agent = new http.Agent({ keepAlive: true });
  const minio = new Client({ endPoint: s3.endPoint, port: s3.port, useSSL: false, accessKey: s3.accessKey, secretKey: s3.secretKey, partSize: PART_SIZE });

  const token = await providingClient(hub.base, 'EP');
  await call(hub.base, 'PUT', '/v1/applications/EP/15150367.9', token, {
    filingDate: '2015-01-09',
    titles: [{ languageCode: 'en', text: 'Benchmark application' }],
    applicants: [{ name: 'Bench' }],
    published: true,
  });

  // node:http on both sides, as the minio client uses: the comparison is of the hub, not of HTTP clients.
  const apiPut = async (): Promise<string> => {
    const url = new URL(`${hub.base}/v1/applications/EP/15150367.9/documents`);
    const request = http.request(url, {
      method: 'POST',
      agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/pdf',
        'content-length': String(DOCUMENT_BYTES),
        'document-code': 'searchReport',
        'document-date': '2016-02-03',
        'document-direction': 'outgoing',
        'document-language': 'en',
        'document-title': 'Benchmark%20document',
      },
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    await pipeline(createReadStream(file, { highWaterMark: MB }), request);
    const response = await answered;
    const text = Buffer.concat(await response.toArray()).toString();
    const body = JSON.parse(text) as { document?: { id: string; sha256: string } };
    if (response.statusCode !== 201 || !body.document) throw new Error(`upload: ${response.statusCode} ${text}`);
    if (body.document.sha256 !== sha256) throw new Error('upload: SHA-256 differs');
    return body.document.id;
  };
  const apiGet = async (id: string): Promise<number> => {
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${hub.base}/v1/documents/${id}/content`, { agent, headers: { authorization: `Bearer ${token}` } }, resolve).once('error', reject);
    });
    if (response.statusCode !== 200) throw new Error(`download: ${response.statusCode}`);
    return drain(response);
  };

  const directIn: number[] = [];
  const directOut: number[] = [];
  const apiIn: number[] = [];
  const apiOut: number[] = [];
  let documentId = '';
  for (let round = 0; round < ROUNDS; round += 1) {
    directIn.push(DOCUMENT_BYTES / MB / (await timed(() => directPut(minio, s3.bucket, `direct/${round}`, file))));
    apiIn.push(DOCUMENT_BYTES / MB / (await timed(async () => (documentId = await apiPut()))));
    // Each deposit queues its text extraction: let it finish so downloads are measured on their own.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    directOut.push(DOCUMENT_BYTES / MB / (await timed(async () => drain(await minio.getObject(s3.bucket, `direct/${round}`)))));
    apiOut.push(
      DOCUMENT_BYTES /
        MB /
        (await timed(async () => {
          const bytes = await apiGet(documentId);
          if (bytes !== DOCUMENT_BYTES) throw new Error(`download: ${bytes} bytes`);
        })),
    );
  }

  // Memory: settle, then sample the hub's RSS while CONCURRENT uploads run at once.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssBefore = hub.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, hub.rss())), 50);
  const concurrentSeconds = await timed(() => Promise.all(Array.from({ length: CONCURRENT }, () => apiPut())));
  clearInterval(sampler);

  await report(
    'deposit-stream',
    [
      { name: `direct minio multipart put, MB/s (median of ${ROUNDS})`, value: median(directIn), unit: 'MB/s' },
      { name: `API upload, MB/s (median of ${ROUNDS})`, value: median(apiIn), unit: 'MB/s' },
      { name: 'upload throughput, API / direct', value: median(apiIn) / median(directIn), unit: 'ratio', target: { op: '>=', value: 0.7 } },
      { name: `direct minio get, MB/s (median of ${ROUNDS})`, value: median(directOut), unit: 'MB/s' },
      { name: `API download, MB/s (median of ${ROUNDS})`, value: median(apiOut), unit: 'MB/s' },
      { name: 'download throughput, API / direct', value: median(apiOut) / median(directOut), unit: 'ratio', target: { op: '>=', value: 0.8 } },
      { name: `server RSS growth, ${CONCURRENT} concurrent ${DOCUMENT_BYTES / MB} MB uploads`, value: (rssPeak - rssBefore) / MB, unit: 'MB', target: { op: '<', value: 64 } },
      { name: `${CONCURRENT} concurrent uploads, aggregate MB/s`, value: (CONCURRENT * DOCUMENT_BYTES) / MB / concurrentSeconds, unit: 'MB/s' },
    ],
    { documentBytes: DOCUMENT_BYTES, partSize: PART_SIZE, rounds: ROUNDS, store: 's3rver', database: 'pglite' },
  );
} finally {
  await hub.stop();
  await s3.close();
  await rm(workDir, { recursive: true, force: true });
}
