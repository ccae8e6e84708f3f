import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';
import { ApplicationEntity } from './application.entity.js';
import { DocumentEntity } from './document.entity.js';

export const CITATION_TYPES = ['patent', 'npl'] as const;
export type CitationType = (typeof CITATION_TYPES)[number];
/** Citation categories of WIPO ST.14 as search reports use them. */
export const CITATION_CATEGORIES = ['X', 'Y', 'A', 'D', 'E', 'L', 'O', 'P', 'T', '&'] as const;

/**
 * A citation made in an application's search or examination: a patent document (office, number in normal form
 * when the hub has rules for the office, kind code) or non-patent literature (`text`), with its categories and the
 * cited claims or passages, optionally attached to the document (of the same application) that cites it. The list
 * of an application is replaced as a whole by `PUT …/citations`.
 */
export const CitationEntity = defineEntity({
  name: 'Citation',
  tableName: 'citation',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    applicationId: p.manyToOne(ApplicationEntity).mapToPk().joinColumn('application_id').deleteRule('cascade').index(),
    position: p.smallint(),
    type: p.enum([...CITATION_TYPES]),
    officeCode: p.string().length(2).nullable(),
    number: p.string().length(64).nullable(),
    numberRaw: p.string().length(200).nullable(),
    numberNormalized: p.boolean().nullable(),
    /** `application` or `publication`, as the normalised number reads. */
    numberType: p.string().length(16).nullable(),
    kindCode: p.string().length(2).nullable(),
    text: p.text().nullable(),
    categories: p.array().default([]),
    claims: p.string().length(500).nullable(),
    passages: p.string().length(2000).nullable(),
    documentId: p.manyToOne(DocumentEntity).mapToPk().joinColumn('document_id').nullable().deleteRule('set null').index(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['officeCode', 'number'], name: 'citation_office_code_number_index' }],
});
export type Citation = InferEntity<typeof CitationEntity>;
