import type { EntityManager } from '@mikro-orm/postgresql';
import type { Readable } from 'node:stream';
import type { Principal } from '../access/principal.js';
import { requireAccess } from '../access/permissions.js';
import { BlobNotFoundError, type BlobStore } from '../platform/storage/index.js';
import { findVisibleDocument, isProviderOf, toDocumentView } from './document-access.js';
import type { AccessedDocument } from './access-events.js';
import type { DocumentView } from './document.schemas.js';
import { contentDisposition, ifNoneMatchHits, ifRangeAllows, parseRange } from './http-download.js';

/** What a download answers: the status, the headers, and the bytes to stream (none for 304, 416 and HEAD). */
export interface DownloadAnswer {
  status: 200 | 206 | 304 | 416;
  headers: Record<string, string>;
  /** Opens the stream; absent when there is no body to send. */
  open?: () => Promise<Readable>;
  /** The document answered for (its access event). */
  document: AccessedDocument;
}

export interface DownloadConditions {
  range?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifRange?: string | undefined;
}

/** Reading single documents, under the visibility rule. */
export function createDocumentReadService({ em, storage }: { em: EntityManager; storage: Pick<BlobStore, 'get'> }) {
  return {
    async get(principal: Principal, documentId: string): Promise<DocumentView> {
      requireAccess(principal, 'getDocument');
      const { document, application } = await findVisibleDocument(em, principal, documentId);
      return toDocumentView(document, application.applicationNumber, isProviderOf(principal, document));
    },

    /** The answer to `GET …/content`: 200 whole, 206 one range, 304 not modified, 416 unsatisfiable. */
    async download(principal: Principal, documentId: string, conditions: DownloadConditions): Promise<DownloadAnswer> {
      requireAccess(principal, 'getDocumentContent');
      const { document } = await findVisibleDocument(em, principal, documentId);
      const accessed: AccessedDocument = { id: document.id, officeCode: document.officeCode, documentCode: document.documentCode };
      const size = Number(document.byteSize);
      const etag = `"${document.sha256}"`;
      const common: Record<string, string> = {
        etag,
        'last-modified': document.receivedAt.toUTCString(),
        'accept-ranges': 'bytes',
        // The visibility of a document can change: caches revalidate every time (cheap with the ETag).
        'cache-control': 'private, no-cache',
      };
      if (ifNoneMatchHits(conditions.ifNoneMatch, etag)) return { status: 304, headers: common, document: accessed };

      const bytes = (start: number, end: number) => async () => {
        try {
          return await storage.get(document.storageKey, start === 0 && end === size - 1 ? undefined : { start, end });
        } catch (error) {
          // A row never points at a missing blob (DESIGN §9): if it does, that is a fault to report, not a 404.
          if (error instanceof BlobNotFoundError) throw new Error(`Document ${document.id} has no blob at ${document.storageKey}`, { cause: error });
          throw error;
        }
      };
      const content = {
        ...common,
        'content-type': document.mediaType,
        'content-disposition': contentDisposition(document.title, document.mediaType, `document-${document.id}`),
        'x-content-type-options': 'nosniff',
      };
      const range = ifRangeAllows(conditions.ifRange, etag, document.receivedAt) ? parseRange(conditions.range, size) : { kind: 'whole' as const };
      if (range.kind === 'unsatisfiable') return { status: 416, headers: { ...common, 'content-range': `bytes */${size}` }, document: accessed };
      if (range.kind === 'range') {
        return {
          status: 206,
          headers: { ...content, 'content-range': `bytes ${range.start}-${range.end}/${size}`, 'content-length': String(range.end - range.start + 1) },
          open: bytes(range.start, range.end),
          document: accessed,
        };
      }
      return { status: 200, headers: { ...content, 'content-length': String(size) }, open: bytes(0, size - 1), document: accessed };
    },
  };
}
