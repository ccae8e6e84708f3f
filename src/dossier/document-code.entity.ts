import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * The controlled vocabulary of document codes (DESIGN §2). The migration seeds the built-in codes
 * (docs/deposits.md lists them); the operator adds more with `POST /v1/document-codes`. Codes are
 * lowerCamelCase, compared exactly.
 */
export const DocumentCodeEntity = defineEntity({
  name: 'DocumentCode',
  tableName: 'document_code',
  properties: (p) => ({
    code: p.string().length(64).primary(),
    label: p.string().length(200),
    description: p.text().nullable(),
    /** Seeded with the hub (true) or added by the operator. */
    builtIn: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type DocumentCode = InferEntity<typeof DocumentCodeEntity>;

/** The codes the migration seeds, with their labels: [code, label, description]. */
export const BUILT_IN_DOCUMENT_CODES: readonly (readonly [string, string, string])[] = [
  ['searchReport', 'Search report', 'A search report listing the prior art found, with citation categories'],
  ['writtenOpinion', 'Written opinion', 'The written opinion accompanying a search report (e.g. ISA or EESR opinion)'],
  ['examinationReport', 'Examination report', 'A substantive examination report or communication on the merits'],
  ['officeAction', 'Office action', 'An office action or notification to the applicant (e.g. a US non-final or final rejection)'],
  ['claims', 'Claims', 'The claims as filed or as amended'],
  ['description', 'Description', 'The description (specification)'],
  ['drawings', 'Drawings', 'The drawings'],
  ['amendments', 'Amendments', 'Amendments filed by the applicant'],
  ['applicantReply', 'Applicant reply', 'The applicant’s reply or arguments'],
  ['allowance', 'Notice of allowance', 'A notice of allowance or intention to grant'],
  ['grant', 'Grant', 'The decision to grant or the granted patent'],
  ['priorityDocument', 'Priority document', 'A certified copy of an earlier application whose priority is claimed'],
  ['citedDocument', 'Cited document', 'A copy of a document cited during search or examination'],
  ['other', 'Other', 'Any other dossier document'],
];
