import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { OfficeEntity } from '../access/office.entity.js';
import { ApplicationEntity } from './application.entity.js';
import { DocumentCodeEntity } from './document-code.entity.js';

export const DOCUMENT_DIRECTIONS = ['incoming', 'outgoing', 'internal'] as const;
export type DocumentDirection = (typeof DOCUMENT_DIRECTIONS)[number];
export const DOCUMENT_VISIBILITIES = ['public', 'offices', 'restricted'] as const;
export const DOCUMENT_STATUSES = ['active', 'withdrawn', 'superseded'] as const;
export const DEPOSITOR_KINDS = ['examiner', 'client'] as const;
export type DepositorKind = (typeof DEPOSITOR_KINDS)[number];

/**
 * A dossier document. Its bytes live in the object store at `storageKey`, written and hashed before this row
 * commits (DESIGN §9); `sha256` and `byteSize` are what was stored and what the receipt signs. A correction is a
 * new row (`version` + 1, `supersedesId`) and the old one turns `superseded`; `supersedes_id` is unique, so a
 * version chain never forks. The id is a UUIDv7 chosen before the upload, so the storage key can name it.
 */
export const DocumentEntity = defineEntity({
  name: 'Document',
  tableName: 'document',
  properties: (p) => ({
    id: p.uuid().primary(),
    applicationId: p.manyToOne(ApplicationEntity).mapToPk().joinColumn('application_id'),
    /** The providing office (the application's), denormalised for the visibility rule and per-office queries. */
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code'),
    documentCode: p.manyToOne(DocumentCodeEntity).mapToPk().joinColumn('document_code').index(),
    documentDate: p.date(),
    direction: p.enum([...DOCUMENT_DIRECTIONS]),
    /** ISO 639-1. */
    languageCode: p.string().length(2),
    title: p.string().length(1000),
    pageCount: p.integer().nullable(),
    /** The sniffed (canonical) media type. */
    mediaType: p.string().length(100),
    byteSize: p.bigint('number'),
    sha256: p.string().length(64),
    storageKey: p.string().length(300).unique(),
    visibility: p.enum([...DOCUMENT_VISIBILITIES]).default('offices'),
    /** Offices that may see a `restricted` document; empty otherwise. */
    allowedOffices: p.array().default([]),
    status: p.enum([...DOCUMENT_STATUSES]).default('active'),
    version: p.integer().default(1),
    supersedesId: p.uuid().nullable().unique(),
    supersededById: p.uuid().nullable(),
    depositorKind: p.enum([...DEPOSITOR_KINDS]),
    /** The examiner's account id or the API client's id. */
    depositorId: p.uuid(),
    depositorBranchId: p.uuid(),
    /** The JWS receipt issued for this deposit. */
    receipt: p.text(),
    receivedAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  indexes: [
    // The dossier list: newest document date first (a backward scan serves `document_date desc, id desc`).
    { properties: ['applicationId', 'documentDate', 'id'], name: 'document_application_id_document_date_id_index' },
    { properties: ['officeCode', 'createdAt'], name: 'document_office_code_created_at_index' },
  ],
});
export type DossierDocument = InferEntity<typeof DocumentEntity>;
