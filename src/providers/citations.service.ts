import type { EntityManager } from '@mikro-orm/postgresql';
import { findOfficeOrThrow } from '../access/office.service.js';
import { OfficeEntity } from '../access/office.entity.js';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { isSt3Code } from '../access/st3.js';
import { canSeeApplication } from '../access/visibility.js';
import { ApplicationEntity, PublicationEntity, type Application } from '../dossier/application.entity.js';
import { CitationEntity, type Citation } from '../dossier/citation.entity.js';
import { canSee, canSeeApplicationOf, principalOfficeFacts } from '../dossier/document-access.js';
import { DocumentEntity } from '../dossier/document.entity.js';
import { NotFoundError, type FieldProblem } from '../platform/errors.js';
import { uuidv7 } from '../platform/ids.js';
import type { CitationList, CitationView, PutCitationsInput } from './citations.schemas.js';
import { depositApplication, depositOffice } from './deposit-office.js';
import { invalidFields, unacceptableFields } from './fields.js';
import { applicationNumberOf, foreignNumberOf } from '../dossier/numbers/kept.js';

type CitationRow = Omit<Citation, 'id' | 'applicationId' | 'position' | 'createdAt'>;

function toView(row: Citation, citedApplication?: { officeCode: string; applicationNumber: string }): CitationView {
  const view: CitationView = { type: row.type, categories: [...row.categories], documentId: row.documentId ?? null };
  if (row.officeCode) view.officeCode = row.officeCode;
  if (row.number) view.number = row.number;
  if (row.numberRaw) view.numberRaw = row.numberRaw;
  if (row.numberNormalized !== null && row.numberNormalized !== undefined) view.numberNormalized = row.numberNormalized;
  if (row.kindCode) view.kindCode = row.kindCode;
  if (row.text) view.text = row.text;
  if (row.claims) view.claims = row.claims;
  if (row.passages) view.passages = row.passages;
  if (citedApplication) view.citedApplication = citedApplication;
  return view;
}

/** Patent citations and non-patent literature of an application: replaced by its providing office, read under the visibility rule. */
export function createCitationService({ em }: { em: EntityManager }) {
  /** The citations' rows, checked: shapes by type (400) and content (422), each naming its field. */
  async function check(application: Application, input: PutCitationsInput): Promise<CitationRow[]> {
    const shape: FieldProblem[] = [];
    const content: FieldProblem[] = [];
    const rows: CitationRow[] = [];
    const documentIds = [...new Set(input.citations.flatMap((citation) => (citation.documentId ? [citation.documentId.toLowerCase()] : [])))];
    const ownDocuments = new Set(
      documentIds.length === 0 ? [] : (await em.find(DocumentEntity, { id: { $in: documentIds }, applicationId: application.id }, { fields: ['id'] })).map((row) => row.id),
    );
    input.citations.forEach((citation, index) => {
      const field = `/body/citations/${index}`;
      const documentId = citation.documentId?.toLowerCase() ?? null;
      if (documentId !== null && !ownDocuments.has(documentId)) content.push({ field: `${field}/documentId`, message: 'is not a document of this application' });
      const common = { categories: [...citation.categories], claims: citation.claims?.trim() ?? null, passages: citation.passages?.trim() ?? null, documentId };
      if (citation.type === 'npl') {
        for (const property of ['officeCode', 'number', 'kindCode'] as const) {
          if (citation[property] !== undefined) shape.push({ field: `${field}/${property}`, message: 'only applies to a patent citation' });
        }
        if (citation.text === undefined) shape.push({ field: `${field}/text`, message: 'is required for a non-patent citation' });
        else rows.push({ type: 'npl', officeCode: null, number: null, numberRaw: null, numberNormalized: null, numberType: null, kindCode: null, text: citation.text.trim(), ...common });
        return;
      }
      if (citation.text !== undefined) shape.push({ field: `${field}/text`, message: 'only applies to a non-patent citation' });
      if (citation.officeCode === undefined) shape.push({ field: `${field}/officeCode`, message: 'is required for a patent citation' });
      if (citation.number === undefined) shape.push({ field: `${field}/number`, message: 'is required for a patent citation' });
      if (citation.officeCode === undefined || citation.number === undefined) return;
      const office = citation.officeCode.toUpperCase();
      if (!isSt3Code(office)) {
        content.push({ field: `${field}/officeCode`, message: `"${citation.officeCode}" is not an ST.3 code` });
        return;
      }
      const givenKind = citation.kindCode?.toUpperCase();
      const carriesKind = /\d ?[A-Za-z][0-9]?$/.test(citation.number.trim());
      const number = foreignNumberOf(office, givenKind !== undefined && !carriesKind ? `${citation.number} ${givenKind}` : citation.number, 'any');
      if (!number.ok) {
        content.push({ field: `${field}/number`, message: number.error.detail });
        return;
      }
      if (givenKind !== undefined && number.value.kindCode !== undefined && givenKind !== number.value.kindCode) {
        content.push({ field: `${field}/kindCode`, message: `${givenKind} differs from the kind code ${number.value.kindCode} in the number` });
        return;
      }
      rows.push({
        type: 'patent',
        officeCode: office,
        number: number.value.number,
        numberRaw: citation.number,
        numberNormalized: number.value.normalized,
        numberType: number.value.type ?? null,
        kindCode: number.value.kindCode ?? givenKind ?? null,
        text: null,
        ...common,
      });
    });
    if (shape.length > 0) throw invalidFields(shape);
    if (content.length > 0) throw unacceptableFields('INVALID_CITATIONS', content);
    return rows;
  }

  /** Links patent citations to dossiers the hub holds and the caller may see. */
  async function citedApplications(principal: Principal, rows: readonly Citation[]): Promise<Map<string, { officeCode: string; applicationNumber: string }>> {
    const patents = rows.filter((row) => row.type === 'patent' && row.officeCode && row.number);
    const links = new Map<string, { officeCode: string; applicationNumber: string }>();
    if (patents.length === 0) return links;
    const byApplication = patents.filter((row) => row.numberType === 'application');
    const byPublication = patents.filter((row) => row.numberType !== 'application');
    const applicationIdOf = new Map<string, string>();
    if (byPublication.length > 0) {
      const publications = await em.find(PublicationEntity, { $or: byPublication.map((row) => ({ officeCode: row.officeCode as string, number: row.number as string })) });
      for (const publication of publications) applicationIdOf.set(`${publication.officeCode}:${publication.number}`, publication.applicationId);
    }
    const applications = await em.find(ApplicationEntity, {
      $or: [
        ...byApplication.map((row) => ({ officeCode: row.officeCode as string, applicationNumber: row.number as string })),
        ...(applicationIdOf.size > 0 ? [{ id: { $in: [...applicationIdOf.values()] } }] : []),
      ],
    });
    const offices = new Map((await em.find(OfficeEntity, { code: { $in: [...new Set(applications.map((application) => application.officeCode))] } })).map((office) => [office.code, office]));
    const principalOffice = await principalOfficeFacts(em, principal);
    const visible = new Map<string, Application>();
    for (const application of applications) {
      const provider = offices.get(application.officeCode);
      if (!provider) continue;
      const facts = { officeCode: application.officeCode, application: { published: application.published }, providingOffice: { status: provider.status, publicAccess: provider.publicAccess }, principalOffice };
      if (canSeeApplication(principal, facts)) visible.set(application.id, application);
    }
    for (const row of patents) {
      const key = `${row.officeCode}:${row.number}`;
      const application =
        row.numberType === 'application'
          ? [...visible.values()].find((candidate) => candidate.officeCode === row.officeCode && candidate.applicationNumber === row.number)
          : visible.get(applicationIdOf.get(key) ?? '');
      if (application) links.set(row.id, { officeCode: application.officeCode, applicationNumber: application.applicationNumber });
    }
    return links;
  }

  async function view(principal: Principal, application: Application): Promise<CitationList> {
    const rows = await em.find(CitationEntity, { applicationId: application.id }, { orderBy: { position: 'asc' } });
    // A citation attached to a document the caller may not see is left out, so the document's existence does not leak.
    const attached = [...new Set(rows.flatMap((row) => (row.documentId ? [row.documentId] : [])))];
    const hidden = new Set<string>();
    if (attached.length > 0) {
      const provider = await em.findOneOrFail(OfficeEntity, { code: application.officeCode });
      const principalOffice = await principalOfficeFacts(em, principal);
      for (const document of await em.find(DocumentEntity, { id: { $in: attached } })) {
        if (!canSee(principal, { document, application, provider }, principalOffice)) hidden.add(document.id);
      }
    }
    const shown = rows.filter((row) => !row.documentId || !hidden.has(row.documentId));
    const links = await citedApplications(principal, shown);
    return { officeCode: application.officeCode, applicationNumber: application.applicationNumber, citations: shown.map((row) => toView(row, links.get(row.id))) };
  }

  const applicationNotFound = (officeCode: string, number: string): NotFoundError =>
    new NotFoundError('APPLICATION_NOT_FOUND', `No application ${officeCode} ${number}`, { officeCode, applicationNumber: number });

  return {
    /** Replaces the application's citations (its providing office's examiners and clients). */
    async replace(principal: Principal, rawOfficeCode: string, rawNumber: string, input: PutCitationsInput): Promise<CitationList> {
      const { office } = await depositOffice(em, principal, rawOfficeCode, 'putCitations');
      const { application } = await depositApplication(em, office, rawNumber);
      const rows = await check(application, input);
      await em.transactional(async (tx) => {
        await tx.nativeDelete(CitationEntity, { applicationId: application.id });
        rows.forEach((row, position) => tx.persist(tx.create(CitationEntity, { id: uuidv7(), applicationId: application.id, position, ...row })));
        await tx.flush();
      });
      return view(principal, application);
    },

    /** The citations, to the providing office and to those who may see the application (else 404, as if it did not exist). */
    async get(principal: Principal, rawOfficeCode: string, rawNumber: string): Promise<CitationList> {
      requireAccess(principal, 'getCitations');
      const office = await findOfficeOrThrow(em, rawOfficeCode);
      const number = applicationNumberOf(office.code, rawNumber);
      const application = await em.findOne(ApplicationEntity, { officeCode: office.code, applicationNumber: number.number });
      if (!application || !(await canSeeApplicationOf(em, principal, application, office))) throw applicationNotFound(office.code, number.number);
      return view(principal, application);
    },
  };
}
