import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectProblem } from '../support/access.js';
import { biblio, countRows, putBiblio, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { generateApplications, random, toNdjson, type GeneratedLine } from '../support/biblio-data.js';
import { expectFamiliesConsistent, ingest, ingestOk } from '../support/families.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';
import { OPERATOR_ENV } from '../support/access.js';

/**
 * Bulk ingest (POST /v1/applications/bulk): one NDJSON stream of many applications, families current when it
 * returns; 100,000 lines in one request on both profiles.
 */
describeEachProfile('families: bulk ingest of bibliographic data (NDJSON)', (profile) => {
  const LINES = 100_000;
  let hub: TestHub;
  let world: DepositWorld;
  let client: string;
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    client = world.us.client.token;
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('reports bad lines one by one and writes nothing of them, while the good lines go in', async () => {
    const good = (number: string, extra: Record<string, unknown> = {}) => JSON.stringify({ officeCode: 'US', applicationNumber: number, ...biblio({ priorityClaims: [] }), ...extra });
    const body = [
      good('20/000,001'),
      '{"officeCode":"US",', // 2: not JSON
      good('20/000,002', { titles: [] }), // 3: schema
      '', // 4: blank, skipped
      good('20/000,003', { priorityClaims: [{ officeCode: 'US', number: '63/000,001', date: '2030-01-01' }] }), // 5: priority after filing
      good('not a number'), // 6: number
      JSON.stringify({ officeCode: 'JP', applicationNumber: 'JP 2020-000001', ...biblio({ priorityClaims: [] }) }), // 7: another office
      good('20/000,004', { pctApplication: 'PCT/XX/1' }), // 8: PCT number
      good('20/000,005', { unknownField: 1 }), // 9: extra field
      '[1,2]', // 10: not an object
      good('20/000,006', { priorityClaims: [{ officeCode: 'CN', number: 'CN 202010001234', date: '2020-01-01' }] }),
    ].join('\r\n');
    const before = await countRows(hub.app, 'application');
    const summary = await ingestOk(hub.app, client, body);
    expect(summary).toMatchObject({ lines: 10, accepted: 2, rejected: 8, errorsOmitted: 0 });
    expect(summary.errors.map(({ line, errorCode }) => ({ line, errorCode }))).toEqual([
      { line: 2, errorCode: 'MALFORMED_LINE' },
      { line: 3, errorCode: 'VALIDATION_FAILED' },
      { line: 5, errorCode: 'INVALID_BIBLIOGRAPHIC_DATA' },
      { line: 6, errorCode: 'UNRECOGNISED_NUMBER' },
      { line: 7, errorCode: 'OTHER_OFFICE_FORBIDDEN' },
      { line: 8, errorCode: 'INVALID_BIBLIOGRAPHIC_DATA' },
      { line: 9, errorCode: 'VALIDATION_FAILED' },
      { line: 10, errorCode: 'MALFORMED_LINE' },
    ]);
    expect(summary.errors[1]?.errors).toEqual([{ field: '/titles', message: expect.any(String) }]);
    expect(summary.errors[2]?.errors).toEqual([{ field: '/priorityClaims/0/date', message: expect.stringContaining('after the filing date') }]);
    expect(summary.errors[5]?.errors).toEqual([{ field: '/pctApplication', message: expect.any(String) }]);
    expect(summary.errors[6]?.errors).toEqual([{ field: '/unknownField', message: 'is not a known field' }]);
    expect(await countRows(hub.app, 'application')).toBe(before + 2);
    const numbers = await hub.app.db.fork().getConnection().execute<{ application_number: string }[]>(
      `select application_number from application where application_number like '20%' order by 1`,
    );
    expect(numbers.map((row) => row.application_number)).toEqual(['20000001', '20000006']);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('writes a number repeated in the stream in order (the later line wins) and reports replacements as updates', async () => {
    const line = (title: string, priorities: GeneratedLine['priorityClaims']) =>
      JSON.stringify({ officeCode: 'US', applicationNumber: '21/000,001', ...biblio({ titles: [{ languageCode: 'en', text: title }], priorityClaims: priorities }) });
    const summary = await ingestOk(
      hub.app,
      client,
      [line('first', [{ officeCode: 'CN', number: 'CN 202110000001', date: '2021-01-01' }]), line('second', []), line('third', [{ officeCode: 'JP', number: 'JP 2021-000001', date: '2021-01-02' }])].join('\n'),
    );
    expect(summary).toMatchObject({ lines: 3, accepted: 3, created: 1, updated: 2, rejected: 0 });
    const [row] = await hub.app.db.fork().getConnection().execute<{ titles: { text: string }[]; family_priorities: string[] }[]>(
      `select a.titles, f.family_priorities from application a join application_family f on f.application_id = a.id where a.office_code = 'US' and a.application_number = '21000001'`,
    );
    expect(row?.titles[0]?.text).toBe('third');
    expect(row?.family_priorities).toEqual(['JP:2021000001']);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  /** Deadlocks the database has detected (its statistics, flushed first). */
  const deadlocks = async (): Promise<number> => {
    const connection = hub.app.db.fork().getConnection();
    await connection.execute('select pg_stat_force_next_flush()');
    const [row] = await connection.execute<{ deadlocks: string | number }[]>('select deadlocks from pg_stat_database where datname = current_database()');
    return Number(row?.deadlocks ?? 0);
  };

  it('takes concurrent streams and PUTs of the same applications in different orders: every write succeeds, each application is created once, families stay exact', { timeout: 120_000 }, async () => {
    // Each writer writes its applications first and takes the family lock after: overlapping batches must wait for
    // one another, never deadlock, and the last write of each application is what its families show.
    const lines = [...generateApplications({ applications: 5_000, seed: 13, offices: ['US'], offset: 8_000_000 })];
    const shuffled = [...lines];
    const next = random(29);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const streams = [lines, [...lines].reverse(), shuffled];
    const puts = lines.filter((_, index) => index % 250 === 0);
    const before = await countRows(hub.app, 'application');
    const deadlocksBefore = await deadlocks();
    const [summaries, putStatuses] = await Promise.all([
      Promise.all(streams.map((stream) => ingestOk(hub.app, client, toNdjson(stream)))),
      Promise.all(puts.map(async (line) => (await putBiblio(hub.app, client, 'US', line.applicationNumber, { ...line, officeCode: undefined, applicationNumber: undefined })).statusCode)),
    ]);
    for (const summary of summaries) expect(summary).toMatchObject({ lines: lines.length, accepted: lines.length, rejected: 0 });
    expect(putStatuses.every((status) => status === 200 || status === 201), JSON.stringify(putStatuses)).toBe(true);
    const created = summaries.reduce((sum, summary) => sum + summary.created, 0) + putStatuses.filter((status) => status === 201).length;
    expect(created).toBe(lines.length);
    expect(await countRows(hub.app, 'application')).toBe(before + lines.length);
    // A deadlock would be retried and go unseen in the results; the database counts them.
    expect(await deadlocks()).toBe(deadlocksBefore);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('indexes on the spot applications written without families while PUTs rewrite them: no deadlock, every write succeeds', { timeout: 120_000 }, async () => {
    // Applications a hub holds unindexed (written before families existed, or by hand): an ingest line claiming one
    // as its priority makes the lock holder index it on the spot, while a PUT of that very application holds its row
    // and waits for the lock.
    const number = (series: number, i: number) => ({ raw: `${series}/${String(i).padStart(6, '0').slice(0, 3)},${String(i).padStart(6, '0').slice(3)}`, normal: `${series}${String(i).padStart(6, '0')}` });
    const count = 60;
    const connection = hub.app.db.fork().getConnection();
    for (let i = 0; i < count; i++) {
      const { raw, normal } = number(25, i);
      await connection.execute(
        `insert into application (id, office_code, application_number, application_number_raw, display_number, filing_date, titles, applicants, inventors, created_at, updated_at)
         values (gen_random_uuid(), 'US', ?, ?, ?, '2019-01-01', '[{"languageCode":"en","text":"Unindexed"}]', '[]', '[]', now(), now())`,
        [normal, raw, raw],
      );
    }
    const claims = Array.from({ length: count }, (_, i) =>
      JSON.stringify({ officeCode: 'US', applicationNumber: number(26, i).raw, ...biblio({ priorityClaims: [{ officeCode: 'US', number: number(25, i).raw, date: '2019-01-01' }] }) }),
    );
    const deadlocksBefore = await deadlocks();
    const [summaries, putStatuses] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, stream) => ingestOk(hub.app, client, claims.filter((_, i) => i % 6 === stream).join('\n')))),
      Promise.all(Array.from({ length: count }, async (_, i) => (await putBiblio(hub.app, client, 'US', number(25, i).raw, biblio({ priorityClaims: [], filingDate: '2019-01-01' }))).statusCode)),
    ]);
    expect(putStatuses, JSON.stringify(putStatuses)).toEqual(Array.from({ length: count }, () => 200));
    for (const summary of summaries) expect(summary).toMatchObject({ accepted: count / 6, rejected: 0 });
    expect(await deadlocks()).toBe(deadlocksBefore);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('takes a gzip or deflate body, and refuses other encodings (415) and a damaged one (400)', async () => {
    const lines = [...generateApplications({ applications: 300, seed: 5, offices: ['US'], offset: 900_000 })];
    const send = (payload: Buffer, encoding: string) =>
      hub.app.inject({
        method: 'POST',
        url: '/v1/applications/bulk',
        headers: { 'content-type': 'application/x-ndjson', 'content-encoding': encoding, authorization: `Bearer ${client}` },
        payload,
      });
    const gzip = await send(gzipSync(toNdjson(lines.slice(0, 150))), 'gzip');
    expect(gzip.statusCode, gzip.body).toBe(200);
    expect(gzip.json<{ accepted: number }>().accepted).toBe(150);
    const deflate = await send(deflateSync(toNdjson(lines.slice(150))), 'deflate');
    expect(deflate.json<{ accepted: number }>().accepted).toBe(lines.length - 150);
    expectProblem(await send(Buffer.from('{}\n'), 'br'), 415, 'UNSUPPORTED_CONTENT_ENCODING');
    expectProblem(await send(Buffer.from('not gzip at all'), 'gzip'), 400, 'MALFORMED_BODY');
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('refuses what is not NDJSON (415), anonymous callers (401), and office administrators (403)', async () => {
    expectProblem(await ingest(hub.app, client, JSON.stringify({ officeCode: 'US' }), 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await ingest(hub.app, client, 'a,b\n', 'text/csv'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await ingest(hub.app, undefined, '{}\n'), 401, 'AUTHENTICATION_REQUIRED');
    expectProblem(await ingest(hub.app, world.us.admin.token, '{}\n'), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await ingest(hub.app, world.kr.examiners[0]?.token, '{}\n'), 403, 'OFFICE_NOT_PROVIDING');
    // An examiner of the providing office may ingest too.
    expect((await ingestOk(hub.app, world.us.examiners[0]?.token ?? '', '')).lines).toBe(0);
  });

  it(`ingests ${LINES.toLocaleString('en')} applications in one request, with families current when it returns`, { timeout: 600_000 }, async () => {
    const lines = [...generateApplications({ applications: LINES, seed: 7, offices: ['US'] })];
    expect(lines.length).toBeGreaterThanOrEqual(LINES);
    const before = { applications: await countRows(hub.app, 'application'), claims: await countRows(hub.app, 'priority_claim') };
    const started = performance.now();
    const summary = await ingestOk(hub.app, client, toNdjson(lines));
    const seconds = (performance.now() - started) / 1000;
    console.log(`[${profile}] ingested ${summary.accepted} applications in ${seconds.toFixed(1)} s (${Math.round(summary.accepted / seconds)}/s)`);
    expect(summary).toMatchObject({ lines: lines.length, accepted: lines.length, created: lines.length, updated: 0, rejected: 0, errors: [] });
    expect(await countRows(hub.app, 'application')).toBe(before.applications + lines.length);
    expect(await countRows(hub.app, 'priority_claim')).toBe(before.claims + lines.reduce((sum, line) => sum + line.priorityClaims.length, 0));
    const families = await expectFamiliesConsistent(hub.app.db.fork());
    expect(families.applications).toBe(before.applications + lines.length);
    // Shared priorities (continuations, divisionals, PCT entries of one international application) make families.
    expect(families.extended).toBeLessThan(lines.length);
  });
});
