import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentStorageKey } from '../../src/providers/deposit.service.js';
import { EXTRACT_TEXT_JOB } from '../../src/providers/extraction.job.js';
import { FIRST_SWEEP_DELAY_MS, scheduleSweeps, sweepJobId, SWEEP_INTERVAL_MS, SWEEP_ORPHAN_BLOBS_JOB } from '../../src/providers/sweeper.js';
import { uuidv7 } from '../../src/platform/ids.js';
import type { JobInfo } from '../../src/platform/jobs/index.js';
import { OPERATOR_ENV } from '../support/access.js';
import { blobKeys, depositOk, depositUrl, putBiblio, SAMPLE_PDF, SAMPLE_PNG, SAMPLE_XML, seedDepositWorld, upload, type Deposited, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';
import { buildPdf } from '../support/pdf.js';

describe('sweep scheduling (unit)', () => {
  it('enqueues one sweep per hour slot while running, and stops', async () => {
    vi.useFakeTimers();
    try {
      const enqueued: (string | undefined)[] = [];
      const jobs = { enqueue: (_name: string, _data: unknown, options?: { jobId?: string }) => (enqueued.push(options?.jobId), Promise.resolve(options?.jobId ?? '')) };
      const stop = scheduleSweeps(jobs, { warn: () => undefined });
      expect(enqueued).toEqual([]);
      await vi.advanceTimersByTimeAsync(FIRST_SWEEP_DELAY_MS);
      await vi.advanceTimersByTimeAsync(SWEEP_INTERVAL_MS);
      expect(enqueued).toHaveLength(2);
      expect(enqueued[0]).toMatch(/^sweep-orphan-blobs-\d+$/);
      expect(enqueued[1]).not.toBe(enqueued[0]);
      stop();
      await vi.advanceTimersByTimeAsync(3 * SWEEP_INTERVAL_MS);
      expect(enqueued).toHaveLength(2);
      // Every process names a slot's sweep alike, so the queue runs it once.
      expect(sweepJobId(SWEEP_INTERVAL_MS * 10 + 5)).toBe(sweepJobId(SWEEP_INTERVAL_MS * 10 + 3_000_000));
    } finally {
      vi.useRealTimers();
    }
  });
});

describeEachProfile('deposit jobs', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let us: string;
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    us = world.us.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, us, 'US', '17400001')).statusCode).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const finished = async (name: string, jobId: string): Promise<JobInfo> => {
    for (let waited = 0; waited < 20_000; waited += 50) {
      const info = await hub.app.jobs.getJob(name, jobId);
      if (info && (info.state === 'completed' || info.state === 'failed')) return info;
      await sleep(50);
    }
    throw new Error(`job ${name} ${jobId} did not finish`);
  };
  const textOf = async (documentId: string) =>
    (await hub.app.db.fork().getConnection().execute<{ text: string; truncated: boolean; pages: number | null; error_code: string | null }[]>('select * from "document_text" where "document_id" = ?', [documentId]))[0];

  describe('text extraction', () => {
    it('extracts the text of a PDF and of an XML deposit', async () => {
      const pdf = await depositOk(hub.app, 'US', '17400001', { token: us, file: buildPdf([['Search report for US 17/400,001'], ['Category X: claims 1-3']]) });
      const xml = await depositOk(hub.app, 'US', '17400001', { token: us, file: SAMPLE_XML, contentType: 'application/xml' });
      expect(await finished(EXTRACT_TEXT_JOB, `extract-${pdf.document.id}`)).toMatchObject({ state: 'completed', result: { outcome: 'extracted' } });
      expect(await finished(EXTRACT_TEXT_JOB, `extract-${xml.document.id}`)).toMatchObject({ state: 'completed', result: { outcome: 'extracted' } });
      expect(await textOf(pdf.document.id)).toMatchObject({ text: 'Search report for US 17/400,001\nCategory X: claims 1-3', pages: 2, truncated: false, error_code: null });
      expect(await textOf(xml.document.id)).toMatchObject({ text: 'Written opinion Claims 1-3 lack novelty.', truncated: false, error_code: null });
    });

    it('records why an XML document has no text (a DTD is never processed), and extracts nothing from images', async () => {
      const hostile = Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>');
      const xml = await depositOk(hub.app, 'US', '17400001', { token: us, file: hostile, contentType: 'application/xml' });
      expect(await finished(EXTRACT_TEXT_JOB, `extract-${xml.document.id}`)).toMatchObject({ state: 'completed', result: { outcome: 'failed' } });
      expect(await textOf(xml.document.id)).toMatchObject({ text: '', error_code: 'XML_DTD_NOT_ALLOWED' });
      const png = await depositOk(hub.app, 'US', '17400001', { token: us, file: SAMPLE_PNG, contentType: 'image/png' });
      expect(await hub.app.jobs.getJob(EXTRACT_TEXT_JOB, `extract-${png.document.id}`)).toBeNull();
      expect(await textOf(png.document.id)).toBeUndefined();
    });
  });

  describe('orphan sweeper', () => {
    it('deletes blobs no document references once older than the grace period, keeping referenced and young ones', async () => {
      const kept = await depositOk(hub.app, 'US', '17400001', { token: us, file: SAMPLE_PDF });
      const orphanKey = (id: string) => documentStorageKey('US', new Date(), id);
      const old = orphanKey(uuidv7());
      await hub.app.storage.put(old, Readable.from([SAMPLE_PDF]));
      // Old enough for a 2-second grace period (S3 timestamps have whole seconds).
      await sleep(3_100);
      const young = orphanKey(uuidv7());
      await hub.app.storage.put(young, Readable.from([SAMPLE_PDF]));
      const before = await blobKeys(hub.app);
      expect(before).toEqual(expect.arrayContaining([old, young]));

      const jobId = await hub.app.jobs.enqueue(SWEEP_ORPHAN_BLOBS_JOB, { graceSeconds: 2 }, { jobId: `sweep-test-${profile}` });
      const info = await finished(SWEEP_ORPHAN_BLOBS_JOB, jobId);
      expect(info).toMatchObject({ state: 'completed', result: { deleted: 1 } });
      const after = await blobKeys(hub.app);
      expect(after).not.toContain(old);
      expect(after).toContain(young);
      expect(after).toEqual(before.filter((key) => key !== old));
      // The referenced document is intact.
      const row = (await hub.app.db.fork().getConnection().execute<{ storage_key: string }[]>('select "storage_key" from "document" where "id" = ?', [kept.document.id]))[0];
      expect(after).toContain(row?.storage_key);
      expect((await hub.app.storage.stat(row?.storage_key ?? ''))?.size).toBe(SAMPLE_PDF.length);
    });

    it('runs with the configured grace period (ORPHAN_GRACE_SECONDS) by default', async () => {
      const young = documentStorageKey('US', new Date(), uuidv7());
      await hub.app.storage.put(young, Readable.from([SAMPLE_PDF]));
      const jobId = await hub.app.jobs.enqueue(SWEEP_ORPHAN_BLOBS_JOB, {}, { jobId: `sweep-default-${profile}` });
      expect(hub.config.sweeper.orphanGraceSeconds).toBe(86_400);
      expect(await finished(SWEEP_ORPHAN_BLOBS_JOB, jobId)).toMatchObject({ state: 'completed', result: { deleted: 0 } });
      expect(await blobKeys(hub.app)).toContain(young);
      await hub.app.storage.delete(young);
    });

    it('forgets Idempotency-Keys older than IDEMPOTENCY_RETENTION_SECONDS: a retry then deposits anew, a younger key still replays', async () => {
      expect(hub.config.sweeper.idempotencyRetentionSeconds).toBe(604_800);
      const options = (key: string) => ({ token: us, file: SAMPLE_PDF, idempotencyKey: `${key}-${profile}` });
      const aged = await depositOk(hub.app, 'US', '17400001', options('retention-aged'));
      const young = await depositOk(hub.app, 'US', '17400001', options('retention-young'));
      const connection = hub.app.db.fork().getConnection();
      // Deposited eight days ago, as far as the record of its key goes.
      await connection.execute(`update "idempotency_record" set "created_at" = now() - interval '8 days' where "key" = ?`, [`retention-aged-${profile}`]);
      const keysLeft = async () =>
        (await connection.execute<{ key: string }[]>(`select "key" from "idempotency_record" where "key" like 'retention-%' order by "key"`)).map((row) => row.key);

      const jobId = await hub.app.jobs.enqueue(SWEEP_ORPHAN_BLOBS_JOB, {}, { jobId: `sweep-idempotency-${profile}` });
      expect(await finished(SWEEP_ORPHAN_BLOBS_JOB, jobId)).toMatchObject({ state: 'completed', result: { idempotencyKeysExpired: 1 } });
      expect(await keysLeft()).toEqual([`retention-young-${profile}`]);

      const replayed = await upload(hub.app, depositUrl('US', '17400001'), options('retention-young'));
      expect(replayed.statusCode).toBe(201);
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expect(replayed.json<Deposited>().document.id).toBe(young.document.id);
      const anew = await upload(hub.app, depositUrl('US', '17400001'), options('retention-aged'));
      expect(anew.statusCode).toBe(201);
      expect(anew.headers['idempotent-replayed']).toBeUndefined();
      expect(anew.json<Deposited>().document.id).not.toBe(aged.document.id);
      // The document the forgotten key created stays.
      expect((await hub.app.inject({ method: 'GET', url: `/v1/documents/${aged.document.id}`, headers: { authorization: `Bearer ${us}` } })).statusCode).toBe(200);
    });
  });
});
