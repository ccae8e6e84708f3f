import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { principalBranch, principalId, principalOffice, type Principal } from '../access/principal.js';
import type { Database } from '../platform/database/database.js';
import { uuidv7 } from '../platform/ids.js';
import type { AccessAction } from './access-event.entity.js';

/** The document an access event is about. */
export interface AccessedDocument {
  id: string;
  officeCode: string;
  documentCode: string;
}

interface PendingEvent {
  id: string;
  at: Date;
  documentId: string;
  providerOffice: string;
  documentCode: string;
  readerOffice: string | null;
  readerBranch: string | null;
  principalKind: string;
  principalId: string | null;
  action: AccessAction;
}

export interface AccessEventRecorderOptions {
  db: Pick<Database, 'fork'>;
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
  /** Write the buffer at least this often (default 1 s). */
  flushIntervalMs?: number;
  /** Write as soon as this many events wait (default 500); also the size of one multi-row insert. */
  batchSize?: number;
  /** Events kept while the database refuses them; older ones are dropped beyond this (default 50,000). */
  maxBuffered?: number;
}

/**
 * Access events (who viewed or downloaded which document, when) without slowing the read that causes them: `record`
 * only appends to an in-memory buffer; the buffer is written with multi-row inserts every second, or as soon as 500
 * events wait, and once more when the app closes (onClose). The price, accepted by design: a crash loses at most the
 * events of the last second (or of a database outage, up to `maxBuffered`). Each API process keeps its own buffer.
 */
export class AccessEventRecorder {
  private buffer: PendingEvent[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly batchSize: number;
  private readonly maxBuffered: number;

  constructor(private readonly options: AccessEventRecorderOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 50_000;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Notes a view or download; returns at once. */
  record(principal: Principal, document: AccessedDocument, action: AccessAction, at: Date = new Date()): void {
    if (this.closed || principal.kind === 'system') return;
    this.buffer.push({
      id: uuidv7(at.getTime()),
      at,
      documentId: document.id,
      providerOffice: document.officeCode,
      documentCode: document.documentCode,
      readerOffice: principalOffice(principal),
      readerBranch: principalBranch(principal),
      principalKind: principal.kind,
      principalId: principalId(principal),
      action,
    });
    if (this.buffer.length >= this.batchSize) void this.flush();
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered so far (tests call it instead of waiting); resolves when it is in the database. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeAll());
    return this.writing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.insert(batch);
      } catch (error) {
        // Keep the batch for the next attempt, within bounds; a read never fails because its event could not be written.
        this.buffer.unshift(...batch);
        const dropped = this.buffer.length - this.maxBuffered;
        if (dropped > 0) {
          this.buffer.splice(0, dropped);
          this.options.log.error({ dropped }, 'dropped access events: the database has refused them for too long');
        }
        this.options.log.warn({ err: error, pending: this.buffer.length }, 'could not write access events; will retry');
        return;
      }
    }
  }

  private async insert(batch: readonly PendingEvent[]): Promise<void> {
    const row = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const params = batch.flatMap((event) => [
      event.id,
      event.at.toISOString(),
      event.documentId,
      event.providerOffice,
      event.documentCode,
      event.readerOffice,
      event.readerBranch,
      event.principalKind,
      event.principalId,
      event.action,
    ]);
    await this.options.db
      .fork()
      .getConnection()
      .execute(
        `insert into "access_event" ("id", "at", "document_id", "provider_office", "document_code", "reader_office", "reader_branch", "principal_kind", "principal_id", "action") values ${batch.map(() => row).join(', ')}`,
        params,
      );
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The access-event recorder of this process (views and downloads of documents). */
    accessEvents: AccessEventRecorder;
  }
}

/** Decorates the app with its access-event recorder and writes the last events when the app closes. */
export const accessEventsPlugin = fp(
  async (app: FastifyInstance) => {
    const recorder = new AccessEventRecorder({ db: app.db, log: app.log });
    app.decorate('accessEvents', recorder);
    // Registered after the platform plugin, so this onClose runs before the database closes.
    app.addHook('onClose', () => recorder.close());
  },
  { name: 'access-events', dependencies: ['platform'] },
);
