/**
 * Bulk ingest of bibliographic data (DESIGN §8): an NDJSON stream of applications, read line by line (never
 * buffered whole), checked line by line exactly as `PUT /v1/applications/{officeCode}/{applicationNumber}` checks
 * its body, and written in batches with set-based statements, each batch in one transaction that also keeps the
 * families current (family-store.ts). A bad line is reported with its line number and nothing of it is written;
 * the other lines go in. When the request returns, every accepted line is stored and its families are current.
 */
import { StringDecoder } from 'node:string_decoder';
import { ConnectionException, DeadlockException, DriverException, LockWaitTimeoutException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import Type from 'typebox';
import { requireDepositor } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { familyKey, maintainFamilies, pinIndexJoins, type FamilyRecord } from '../dossier/families/family-store.js';
import { AppError, ForbiddenError, type FieldProblem } from '../platform/errors.js';
import { rawQuery } from '../platform/database/raw-query.js';
import { uuidv7 } from '../platform/ids.js';
import { familyRecordOf, PctApplicationField, pctApplicationOf } from './biblio-families.js';
import { ApplicationParams, BiblioBody, type BiblioInput } from './biblio.schemas.js';
import { checkBiblio, normaliseClassification } from './biblio.service.js';
import { depositOffice } from './deposit-office.js';
import { fieldValidator } from './fields.js';
import { applicationNumberOf, type KeptNumber } from '../dossier/numbers/kept.js';

/** One line: the body of `PUT /v1/applications/{officeCode}/{applicationNumber}` with the path's two parts. */
export const BulkApplicationLine = Type.Object(
  {
    officeCode: ApplicationParams.properties.officeCode,
    applicationNumber: ApplicationParams.properties.applicationNumber,
    ...BiblioBody.properties,
    pctApplication: PctApplicationField,
  },
  { additionalProperties: false },
);
type BulkLine = BiblioInput & { officeCode: string; applicationNumber: string; pctApplication?: string | null };

const lineValidator = fieldValidator<BulkLine>(BulkApplicationLine);

export interface LineError {
  /** 1-based line number in the stream (blank lines count). */
  line: number;
  errorCode: string;
  detail: string;
  errors?: FieldProblem[];
}

export interface IngestSummary {
  /** Non-blank lines read. */
  lines: number;
  accepted: number;
  created: number;
  updated: number;
  rejected: number;
  /** The first `maxErrors` refusals, in line order. */
  errors: LineError[];
  /** Refusals beyond those listed. */
  errorsOmitted: number;
  families: { created: number; merged: number; split: number; dissolved: number; moved: number };
  durationMs: number;
}

export interface IngestOptions {
  /** Applications per transaction (default 2,000). */
  batchSize?: number;
  /** Refusals listed in the summary (default 1,000); the rest are counted. */
  maxErrors?: number;
  /** Longest line accepted, in characters (default 1 MiB). */
  maxLineLength?: number;
  /** Called after each batch is committed (progress logs). */
  onBatch?: (progress: { lines: number; accepted: number; rejected: number }) => void;
}

/** A checked line, ready to be written. */
interface ParsedLine {
  line: number;
  key: string;
  officeCode: string;
  number: KeptNumber;
  input: BulkLine;
  pct: string | null;
  priorities: ReturnType<typeof checkBiblio>['priorities'];
  publications: ReturnType<typeof checkBiblio>['publications'];
}

interface BatchResult {
  created: number;
  updated: number;
  families: IngestSummary['families'];
}

const DEFAULT_BATCH = 2_000;
const DEFAULT_MAX_ERRORS = 1_000;
const DEFAULT_MAX_LINE = 1024 * 1024;
/**
 * Lines checked between two turns of the event loop while a batch is being written. Small: the batch in flight
 * holds row locks and, for its second half, the family lock, and each of its statements waits for the loop; 50 measured 3,270/s, 2 measured 3,850/s.
 */
const YIELD_EVERY = 2;

/** Field problems of a line, relative to the line (`/titles/0/text` rather than `/body/titles/0/text`). */
function lineProblems(error: AppError): FieldProblem[] | undefined {
  const errors = (error.extensions as { errors?: FieldProblem[] }).errors;
  return errors?.map((problem) => ({ field: problem.field.replace(/^\/body(?=\/|$)/, '') || '/', message: problem.message }));
}

function refusal(line: number, error: unknown): LineError {
  if (error instanceof AppError) {
    const errors = lineProblems(error);
    return { line, errorCode: error.errorCode, detail: errors ? errors.map((problem) => `${problem.field} ${problem.message}`).join('; ') : error.detail, ...(errors ? { errors } : {}) };
  }
  if (error instanceof SyntaxError) return { line, errorCode: 'MALFORMED_LINE', detail: `Not a JSON object: ${error.message}` };
  throw error;
}

/** Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk boundaries; an overlong line comes as null, unkept. */
export async function* ndjsonLines(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, maxLineLength: number): AsyncGenerator<{ line: number; text: string | null }> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  /** The line being read is already too long: the rest of it is skipped. */
  let overlong = false;
  let line = 0;
  const emit = (text: string) => {
    line += 1;
    const result = { line, text: overlong || text.length > maxLineLength ? null : text.endsWith('\r') ? text.slice(0, -1) : text };
    overlong = false;
    return result;
  };
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const piece = text.slice(start, newline);
      start = newline + 1;
      const whole = partial === '' ? piece : partial + piece;
      partial = '';
      yield emit(whole);
    }
    if (!overlong) {
      partial += text.slice(start);
      if (partial.length > maxLineLength) {
        overlong = true;
        partial = '';
      }
    }
  }
  partial += decoder.end();
  if (partial !== '' || overlong) yield emit(partial);
}

/** Checks one line as the PUT checks its body; throws the refusal (an AppError) or a SyntaxError. */
function parseLine(line: number, text: string, officeCode: string): ParsedLine {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError('a line must hold one JSON object');
  const record = value as Record<string, unknown>;
  // The defaults the PUT's schema gives.
  for (const list of ['applicants', 'inventors', 'ipc', 'cpc', 'priorityClaims', 'publications']) if (record[list] === undefined) record[list] = [];
  const input = lineValidator.parse(record, '');
  const office = input.officeCode.trim().toUpperCase();
  if (office !== officeCode) {
    throw new ForbiddenError('OTHER_OFFICE_FORBIDDEN', `An application of office ${office}: the caller may only write applications of ${officeCode}`);
  }
  const number = applicationNumberOf(office, input.applicationNumber);
  const { priorities, publications } = checkBiblio(office, input);
  const pct = pctApplicationOf(input.pctApplication);
  return { line, key: familyKey(office, number.number), officeCode: office, number, input, pct, priorities, publications };
}

const json = (value: unknown): string => JSON.stringify(value);

/** The columns of an ingested application row, as `jsonb_to_recordset` reads them. */
const APPLICATION_COLUMNS = `x(id uuid, office_code text, application_number text, application_number_raw text, number_normalized boolean, display_number text,
  filing_date date, titles jsonb, applicants jsonb, inventors jsonb, ipc text[], cpc text[], published boolean, provider_family_id text, pct_application_number text)`;

/**
 * Writes one batch (distinct keys) with its families in one transaction. The application rows, priority claims and
 * publications are written first, outside the family lock, so that another stream's batch can write its rows while
 * this one holds the lock (docs/families.md); the lock then covers only the family tables.
 */
async function writeBatch(em: EntityManager, batch: readonly ParsedLine[]): Promise<BatchResult> {
  return em.transactional(async (tx) => {
    await pinIndexJoins(tx);
    // Rows in key order: concurrent batches sharing keys lock them in the same order, so they wait instead of deadlocking.
    const lines = [...batch].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const rows = lines.map((line) => {
      const input = line.input;
      return {
        id: uuidv7(),
        office_code: line.officeCode,
        application_number: line.number.number,
        application_number_raw: line.number.raw,
        number_normalized: line.number.normalized,
        display_number: line.number.display,
        filing_date: input.filingDate,
        titles: input.titles.map(({ languageCode, text }) => ({ languageCode, text: text.trim() })),
        applicants: input.applicants.map(({ name, countryCode }) => ({ name: name.trim(), ...(countryCode !== undefined ? { countryCode } : {}) })),
        inventors: input.inventors.map(({ name, countryCode }) => ({ name: name.trim(), ...(countryCode !== undefined ? { countryCode } : {}) })),
        ipc: [...new Set(input.ipc.map(normaliseClassification))],
        cpc: [...new Set(input.cpc.map(normaliseClassification))],
        published: input.published,
        provider_family_id: input.familyId ?? null,
        pct_application_number: line.pct,
      };
    });
    // New applications are inserted, existing ones replaced. xmax is 0 only on a row this statement inserted: an
    // updated row carries this transaction's lock in it (PostgreSQL's own rows; the keys of a batch are distinct).
    const written = await rawQuery<{ id: string; office_code: string; application_number: string; inserted: boolean }>(
      tx,
      `insert into application (id, office_code, application_number, application_number_raw, number_normalized, display_number, filing_date, titles, applicants, inventors,
         ipc, cpc, published, provider_family_id, pct_application_number, created_at, updated_at)
       select x.id, x.office_code, x.application_number, x.application_number_raw, x.number_normalized, x.display_number, x.filing_date, x.titles, x.applicants, x.inventors,
         x.ipc, x.cpc, x.published, x.provider_family_id, x.pct_application_number, now(), now()
       from jsonb_to_recordset(?::jsonb) as ${APPLICATION_COLUMNS}
       on conflict (office_code, application_number) do update set application_number_raw = excluded.application_number_raw, number_normalized = excluded.number_normalized,
         display_number = excluded.display_number, filing_date = excluded.filing_date, titles = excluded.titles, applicants = excluded.applicants, inventors = excluded.inventors,
         ipc = excluded.ipc, cpc = excluded.cpc, published = excluded.published, provider_family_id = excluded.provider_family_id,
         pct_application_number = excluded.pct_application_number, updated_at = now()
       returning id, office_code, application_number, (xmax = 0) as inserted`,
      [json(rows)],
    );
    const idOf = new Map(written.map((row) => [familyKey(row.office_code, row.application_number), row.id]));
    const replaced = written.filter((row) => !row.inserted).map((row) => row.id);
    if (replaced.length > 0) {
      const ids = json(replaced);
      await rawQuery(tx, 'delete from priority_claim where application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))', [ids]);
      await rawQuery(tx, 'delete from publication where application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))', [ids]);
    }
    const priorities = lines.flatMap((line) => line.priorities.map((claim, position) => ({ id: uuidv7(), a: idOf.get(line.key), position, ...claim })));
    if (priorities.length > 0) {
      await rawQuery(
        tx,
        `insert into priority_claim (id, application_id, position, office_code, number, number_raw, normalized, date)
         select id, a, position, "officeCode", number, "numberRaw", normalized, date
         from jsonb_to_recordset(?::jsonb) as x(id uuid, a uuid, position smallint, "officeCode" text, number text, "numberRaw" text, normalized boolean, date date)`,
        [json(priorities)],
      );
    }
    const publications = lines.flatMap((line) => line.publications.map((publication, position) => ({ id: uuidv7(), a: idOf.get(line.key), position, ...publication })));
    if (publications.length > 0) {
      await rawQuery(
        tx,
        `insert into publication (id, application_id, position, office_code, number, kind_code, number_raw, date)
         select id, a, position, "officeCode", number, "kindCode", "numberRaw", date
         from jsonb_to_recordset(?::jsonb) as x(id uuid, a uuid, position smallint, "officeCode" text, number text, "kindCode" text, "numberRaw" text, date date)`,
        [json(publications)],
      );
    }
    // The families, under the family lock, in the batch's own order (later records of one key replace earlier ones).
    const records: FamilyRecord[] = batch.map((line) => familyRecordOf(line.officeCode, line.number.number, line.priorities, line.pct, line.input.familyId));
    const change = await maintainFamilies(tx, records);
    return {
      created: written.length - replaced.length,
      updated: replaced.length,
      families: { created: change.created.length, merged: change.merged.length, split: change.split.length, dissolved: change.dissolved.length, moved: change.moved.length },
    };
  });
}

/** A refusal that says nothing of the data: the same batch may well pass when written again. */
const isTransient = (error: unknown): boolean => error instanceof DeadlockException || error instanceof LockWaitTimeoutException;
/** Whether a failed batch is worth retrying line by line (a line's data), rather than failing the request (the database). */
const isDataError = (error: unknown): boolean => error instanceof DriverException && !(error instanceof ConnectionException) && !isTransient(error);
/** Attempts at a batch the database refused for a transient reason. */
const TRANSIENT_ATTEMPTS = 3;

export function createBulkIngestService({ em, fork, log }: { em: EntityManager; fork: () => EntityManager; log?: FastifyBaseLogger }) {
  return {
    /** Reads the stream to its end and returns the summary; throws only for the request as a whole (permission, database). */
    async ingest(principal: Principal, source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, options: IngestOptions = {}): Promise<IngestSummary> {
      const started = performance.now();
      // Principals without an office (anonymous, the operator, the command line) are refused as for any deposit.
      if (!('officeCode' in principal)) requireDepositor(principal, { officeCode: '', officeProviding: false }, 'ingestApplications');
      const { office } = await depositOffice(em, principal, 'officeCode' in principal ? principal.officeCode : '', 'ingestApplications');
      const batchSize = options.batchSize ?? DEFAULT_BATCH;
      const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
      const summary: IngestSummary = {
        lines: 0,
        accepted: 0,
        created: 0,
        updated: 0,
        rejected: 0,
        errors: [],
        errorsOmitted: 0,
        families: { created: 0, merged: 0, split: 0, dissolved: 0, moved: 0 },
        durationMs: 0,
      };
      const reject = (error: LineError) => {
        summary.rejected += 1;
        if (summary.errors.length < maxErrors) summary.errors.push(error);
        else summary.errorsOmitted += 1;
      };
      const account = (batch: readonly ParsedLine[], result: BatchResult) => {
        summary.accepted += batch.length;
        summary.created += result.created;
        summary.updated += result.updated;
        for (const key of Object.keys(result.families) as (keyof BatchResult['families'])[]) summary.families[key] += result.families[key];
      };

      /** Writes a batch, again after a deadlock or a lock timeout (whoever lost is rolled back whole). */
      const attempt = async (batch: readonly ParsedLine[]): Promise<BatchResult> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await writeBatch(fork(), batch);
          } catch (error) {
            if (!isTransient(error) || attempt === TRANSIENT_ATTEMPTS) throw error;
            log?.warn({ err: error, lines: batch.length, attempt }, 'ingest batch lost a lock conflict; writing it again');
          }
        }
      };
      /** A batch, and when it fails on its data, each of its lines alone, so that only the bad ones are refused. */
      const write = async (batch: readonly ParsedLine[]): Promise<void> => {
        try {
          account(batch, await attempt(batch));
        } catch (error) {
          if (!isDataError(error)) throw error;
          log?.warn({ err: error, lines: batch.length }, 'ingest batch refused by the database; retrying its lines one by one');
          for (const line of batch) {
            try {
              account([line], await attempt([line]));
            } catch (lineError) {
              if (!isDataError(lineError)) throw lineError;
              reject({ line: line.line, errorCode: 'UNSTORABLE_LINE', detail: 'The database refused this application; nothing of it was written' });
            }
          }
        }
        options.onBatch?.({ lines: summary.lines, accepted: summary.accepted, rejected: summary.rejected });
      };

      // Lines are checked while the previous batch is being written (one batch in flight: the next one's lookups must see it).
      let inflight: Promise<void> | undefined;
      let failure: { error: unknown } | undefined;
      const flush = async (batch: ParsedLine[]) => {
        if (inflight) await inflight;
        if (failure) throw failure.error;
        inflight = write(batch).catch((error: unknown) => {
          failure = { error };
        });
      };

      let batch: ParsedLine[] = [];
      let keys = new Set<string>();
      for await (const { line, text } of ndjsonLines(source, options.maxLineLength ?? DEFAULT_MAX_LINE)) {
        if (text !== null && text.trim() === '') continue;
        summary.lines += 1;
        // Checking lines is CPU work on chunks already received: let the in-flight batch's database answers in now
        // and then (they wait in the socket otherwise, and the database idles between its statements).
        if (inflight && summary.lines % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
        if (text === null) {
          reject({ line, errorCode: 'LINE_TOO_LONG', detail: `The line is longer than ${options.maxLineLength ?? DEFAULT_MAX_LINE} characters` });
          continue;
        }
        let parsed: ParsedLine;
        try {
          parsed = parseLine(line, text, office.code);
        } catch (error) {
          reject(refusal(line, error));
          continue;
        }
        // A key repeated within a batch: the batch is written first, so the later line wins as it would one by one.
        if (keys.has(parsed.key) || batch.length >= batchSize) {
          await flush(batch);
          batch = [];
          keys = new Set();
        }
        batch.push(parsed);
        keys.add(parsed.key);
      }
      if (batch.length > 0) await flush(batch);
      if (inflight) await inflight;
      if (failure) throw failure.error;
      summary.errors.sort((a, b) => a.line - b.line);
      summary.durationMs = Math.round(performance.now() - started);
      return summary;
    },
  };
}
