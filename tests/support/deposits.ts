import { deflateSync } from 'node:zlib';
import type { JSONWebKeySet } from 'jose';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { call, clientToken, createSecretClient, operatorToken, seedOffice, type SeededOffice } from './access.js';
import { buildPdf } from './pdf.js';

/** A depositing office: its people, and an API client of its first branch with a token. */
export interface ProvidingOffice extends SeededOffice {
  client: { id: string; token: string };
}

export interface DepositWorld {
  operator: string;
  /** Providing and accessing, two branches. */
  us: ProvidingOffice;
  /** Providing and accessing: another office. */
  jp: ProvidingOffice;
  /** Accessing only. */
  kr: SeededOffice;
}

/** Offices for deposit suites: US and JP provide and access, KR only accesses. */
export async function seedDepositWorld(app: FastifyInstance): Promise<DepositWorld> {
  const operator = await operatorToken(app);
  const providing = async (code: string): Promise<ProvidingOffice> => {
    const office = await seedOffice(app, operator, { code, branches: 2 });
    const client = await createSecretClient(app, office.admin.token, code, office.branches[0]?.id ?? '', `${code} uploader`);
    return { ...office, client: { id: client.id, token: await clientToken(app, client.id, client.secret) } };
  };
  const us = await providing('US');
  const jp = await providing('JP');
  const kr = await seedOffice(app, operator, { code: 'KR', roles: ['accessing'], branches: 1 });
  return { operator, us, jp, kr };
}

export function biblio(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    filingDate: '2021-03-04',
    titles: [
      { languageCode: 'en', text: 'Widget with a sprocket' },
      { languageCode: 'fr', text: 'Gadget à pignon' },
    ],
    applicants: [{ name: 'Acme Corp.', countryCode: 'US' }],
    inventors: [{ name: 'Ada Lovelace' }],
    ipc: ['H04L 9/32'],
    cpc: ['H04L9/3247'],
    priorityClaims: [{ officeCode: 'US', number: '63/123,456', date: '2020-03-05' }],
    publications: [{ number: 'US 2022/0123456', kindCode: 'A1', date: '2022-09-08' }],
    published: true,
    ...overrides,
  };
}

export async function putBiblio(app: FastifyInstance, token: string, officeCode: string, number: string, body: Record<string, unknown> = biblio()): Promise<LightMyRequestResponse> {
  return call(app, 'PUT', `/v1/applications/${officeCode}/${encodeURIComponent(number)}`, { token, body });
}

export interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
  contentType?: string;
}

/** A multipart/form-data body, in the order given. */
export function multipart(parts: readonly Part[], boundary = `----dx${Math.random().toString(16).slice(2)}`): { payload: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.contentType !== undefined ? `Content-Type: ${part.contentType}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head, 'utf8'), Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value, 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export const METADATA = { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Search report' } as const;

export interface UploadOptions {
  token: string | undefined;
  file: Buffer;
  /** The file part's Content-Type (multipart) or the body's (raw). */
  contentType?: string;
  metadata?: Record<string, unknown>;
  variant?: 'multipart' | 'raw';
  idempotencyKey?: string;
  headers?: Record<string, string>;
}

/** Metadata as `Document-*` headers for the raw variant. */
export function metadataHeaders(metadata: Record<string, unknown>): Record<string, string> {
  const names: Record<string, string> = {
    documentCode: 'document-code',
    documentDate: 'document-date',
    direction: 'document-direction',
    languageCode: 'document-language',
    title: 'document-title',
    pageCount: 'page-count',
    visibility: 'document-visibility',
    allowedOffices: 'document-allowed-offices',
    reason: 'document-change-reason',
  };
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const name = names[key];
    if (name === undefined || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : JSON.stringify(value);
    headers[name] = key === 'title' || key === 'reason' ? encodeURIComponent(text) : text;
  }
  return headers;
}

/** POST an upload (to a deposit URL or a versions URL) through inject. */
export function upload(app: FastifyInstance, url: string, options: UploadOptions): Promise<LightMyRequestResponse> {
  const metadata = options.metadata ?? METADATA;
  const contentType = options.contentType ?? 'application/pdf';
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  if (options.variant === 'raw') {
    return app.inject({ method: 'POST', url, headers: { ...metadataHeaders(metadata), 'content-type': contentType, ...headers }, payload: options.file });
  }
  const body = multipart([
    { name: 'metadata', value: JSON.stringify(metadata), contentType: 'application/json' },
    { name: 'file', value: options.file, filename: 'document.bin', contentType },
  ]);
  return app.inject({ method: 'POST', url, headers: { 'content-type': body.contentType, ...headers }, payload: body.payload });
}

export const depositUrl = (officeCode: string, number: string): string => `/v1/applications/${officeCode}/${encodeURIComponent(number)}/documents`;

export interface Deposited {
  document: { id: string; sha256: string; byteSize: number; mediaType: string; version: number; status: string; visibility: string; [key: string]: unknown };
  receipt: string;
}

export async function depositOk(app: FastifyInstance, officeCode: string, number: string, options: UploadOptions): Promise<Deposited> {
  const response = await upload(app, depositUrl(officeCode, number), options);
  expect(response.statusCode, response.body).toBe(201);
  return response.json<Deposited>();
}

// ------------------------------------------------------------------------------------------------ sample files

export const SAMPLE_PDF = buildPdf([['Search report', 'Category X: US 2019/0001234 A1'], ['Second page']]);
export const SAMPLE_XML = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<search-report><title>Written <b>opinion</b></title><p>Claims 1-3 lack novelty.</p></search-report>\n');

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid 1×1 grey PNG. */
export const SAMPLE_PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  pngChunk('IHDR', Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0])),
  pngChunk('IDAT', deflateSync(Buffer.from([0, 0x80]))),
  pngChunk('IEND', Buffer.alloc(0)),
]);
/** A JPEG's start (SOI, JFIF APP0) and end: enough for sniffing. */
export const SAMPLE_JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'), Buffer.from([0xff, 0xd9])]);
/** A little-endian TIFF header with an empty IFD. */
export const SAMPLE_TIFF = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
export const SAMPLE_ZIP = Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);

// ------------------------------------------------------------------------------------------------ state

/** Every document blob in the store. */
export async function blobKeys(app: FastifyInstance): Promise<string[]> {
  const keys: string[] = [];
  for await (const blob of app.storage.list('documents/')) keys.push(blob.key);
  return keys.sort();
}

export async function countRows(app: FastifyInstance, table: string): Promise<number> {
  const [row] = await app.db.fork().getConnection().execute<{ count: string | number }[]>(`select count(*) as count from "${table}"`);
  return Number(row?.count ?? 0);
}

/** Row counts of the deposit tables and the stored blobs: equal before and after a refused request. */
export async function depositState(app: FastifyInstance): Promise<{ tables: Record<string, number>; blobs: string[] }> {
  const tables: Record<string, number> = {};
  for (const table of ['application', 'priority_claim', 'publication', 'document', 'document_change', 'idempotency_record', 'citation', 'document_code']) tables[table] = await countRows(app, table);
  return { tables, blobs: await blobKeys(app) };
}

/** GET /.well-known/jwks.json */
export async function jwksOf(app: FastifyInstance): Promise<JSONWebKeySet> {
  const response = await call(app, 'GET', '/.well-known/jwks.json');
  expect(response.statusCode).toBe(200);
  return response.json<JSONWebKeySet>();
}
