import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { OfficeEntity } from '../access/office.entity.js';
import { DEPOSITOR_KINDS } from '../dossier/document.entity.js';
import type { FieldProblem } from '../platform/errors.js';

export const PACKAGE_STATUSES = ['queued', 'processing', 'completed', 'failed', 'refused'] as const;
export type PackageStatus = (typeof PACKAGE_STATUSES)[number];
/** A package in one of these states is done with: its job does nothing more, and its zip is deleted. */
export const FINAL_PACKAGE_STATUSES: readonly PackageStatus[] = ['completed', 'failed', 'refused'];

export const PACKAGE_ENTRY_KINDS = ['application', 'document', 'citations', 'entry'] as const;
export type PackageEntryKind = (typeof PACKAGE_ENTRY_KINDS)[number];
export const PACKAGE_ENTRY_STATUSES = ['accepted', 'refused', 'failed'] as const;
export type PackageEntryStatus = (typeof PACKAGE_ENTRY_STATUSES)[number];

/** What became of one entry of a package (a manifest application, document or citation list, or a zip entry). */
export interface PackageEntryResult {
  kind: PackageEntryKind;
  /** The application number (applications, citations) or the path in the zip (documents, entries); possibly hostile. */
  reference: string;
  status: PackageEntryStatus;
  /** The manifest field the entry came from, e.g. `/manifest/documents/2` (absent for zip entries the manifest does not name). */
  field?: string;
  /** Accepted documents: the document, its receipt, and whether an earlier attempt had already deposited it. */
  documentId?: string;
  receipt?: string;
  sha256?: string;
  replayed?: boolean;
  /** Accepted applications: whether the record was created (else replaced). */
  created?: boolean;
  /** Refused or failed entries. */
  errorCode?: string;
  detail?: string;
  errors?: FieldProblem[];
}

/** Why a whole package was refused, or why its processing failed. */
export interface PackageError {
  errorCode: string;
  detail: string;
  errors?: FieldProblem[];
}

/**
 * A bulk deposit (`POST /v1/packages`): a zip holding `manifest.json` and the documents it lists, stored at
 * `storageKey` (`packages/<officeCode>/<id>.zip`) while its job (`providers.process-package`) works through it. The
 * submitter (an examiner or API client) is the depositor of everything in it. `results` holds one entry per
 * manifest item and per zip entry the manifest does not name; `progressDone / progressTotal` count them as the job
 * goes. The zip is deleted once the package reaches a final status (completed, failed or refused).
 */
export const PackageEntity = defineEntity({
  name: 'DepositPackage',
  tableName: 'package',
  properties: (p) => ({
    id: p.uuid().primary(),
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code'),
    /** The submitter's branch: packages are shared inside it (and with the office administrator). */
    branchId: p.uuid(),
    submitterKind: p.enum([...DEPOSITOR_KINDS]),
    /** The examiner's account id or the API client's id. */
    submitterId: p.uuid(),
    status: p.enum([...PACKAGE_STATUSES]).default('queued'),
    storageKey: p.string().length(300),
    /** The zip as received: its size and SHA-256. */
    byteSize: p.bigint('number'),
    sha256: p.string().length(64),
    idempotencyKey: p.string().length(200).nullable(),
    progressDone: p.integer().default(0),
    progressTotal: p.integer().default(0),
    results: p.json<PackageEntryResult[]>(),
    error: p.json<PackageError>().nullable(),
    /** Job attempts started so far. */
    attempts: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  }),
  uniques: [{ properties: ['officeCode', 'idempotencyKey'], name: 'package_office_code_idempotency_key_unique' }],
  indexes: [
    // A branch's packages, and an office's (its administrator), newest first: ids are UUIDv7.
    { properties: ['officeCode', 'branchId', 'id'], name: 'package_office_code_branch_id_id_index' },
    { properties: ['officeCode', 'id'], name: 'package_office_code_id_index' },
    // Packages to resume after a restart (queued, processing).
    { properties: ['status'], name: 'package_status_index' },
  ],
});
export type DepositPackage = InferEntity<typeof PackageEntity>;
