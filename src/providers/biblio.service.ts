import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isSt3Code } from '../access/st3.js';
import type { Principal } from '../access/principal.js';
import { ApplicationEntity, PriorityClaimEntity, PublicationEntity, type Application } from '../dossier/application.entity.js';
import { familyIdsOf, maintainFamilies } from '../dossier/families/family-store.js';
import type { FieldProblem } from '../platform/errors.js';
import { rawQuery } from '../platform/database/raw-query.js';
import { uuidv7 } from '../platform/ids.js';
import { familyRecordOf, pctApplicationOf } from './biblio-families.js';
import type { ApplicationView, BiblioInput } from './biblio.schemas.js';
import { depositOffice } from './deposit-office.js';
import { unacceptableFields } from './fields.js';
import { applicationNumberOf, foreignNumberOf } from '../dossier/numbers/kept.js';

interface PriorityRow {
  officeCode: string;
  number: string;
  numberRaw: string;
  normalized: boolean;
  date: string;
}
interface PublicationRow {
  officeCode: string;
  number: string;
  kindCode: string;
  numberRaw: string;
  date: string;
}

/** `H04L9/32`, `H04L 9 / 32` → `H04L 9/32` (the schema has checked the shape). */
export function normaliseClassification(symbol: string): string {
  const compact = symbol.replace(/\s+/g, '');
  return `${compact.slice(0, 4)} ${compact.slice(4)}`;
}

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Content checks the schema cannot make; each refusal names its field (422 INVALID_BIBLIOGRAPHIC_DATA). */
export function checkBiblio(officeCode: string, input: BiblioInput): { priorities: PriorityRow[]; publications: PublicationRow[] } {
  const problems: FieldProblem[] = [];
  const languages = new Set<string>();
  input.titles.forEach((title, index) => {
    if (languages.has(title.languageCode)) problems.push({ field: `/body/titles/${index}/languageCode`, message: `repeats the language "${title.languageCode}": one title per language` });
    languages.add(title.languageCode);
  });
  for (const [list, name] of [
    [input.applicants, 'applicants'],
    [input.inventors, 'inventors'],
  ] as const) {
    list.forEach((party, index) => {
      if (party.countryCode !== undefined && !isSt3Code(party.countryCode)) problems.push({ field: `/body/${name}/${index}/countryCode`, message: `"${party.countryCode}" is not an ST.3 code` });
    });
  }

  const priorities: PriorityRow[] = [];
  const seenPriorities = new Set<string>();
  input.priorityClaims.forEach((claim, index) => {
    const field = `/body/priorityClaims/${index}`;
    const office = claim.officeCode.toUpperCase();
    if (!isSt3Code(office)) {
      problems.push({ field: `${field}/officeCode`, message: `"${claim.officeCode}" is not an ST.3 code` });
      return;
    }
    if (claim.date > input.filingDate) problems.push({ field: `${field}/date`, message: `${claim.date} is after the filing date ${input.filingDate}: a priority is an earlier filing` });
    const number = foreignNumberOf(office, claim.number, 'application');
    if (!number.ok) {
      problems.push({ field: `${field}/number`, message: number.error.detail });
      return;
    }
    const key = `${office}:${number.value.number}`;
    if (seenPriorities.has(key)) problems.push({ field: `${field}/number`, message: `repeats the priority ${office} ${number.value.number}` });
    seenPriorities.add(key);
    priorities.push({ officeCode: office, number: number.value.number, numberRaw: claim.number, normalized: number.value.normalized, date: claim.date });
  });

  const publications: PublicationRow[] = [];
  input.publications.forEach((publication, index) => {
    const field = `/body/publications/${index}`;
    const office = (publication.officeCode ?? officeCode).toUpperCase();
    if (!isSt3Code(office)) {
      problems.push({ field: `${field}/officeCode`, message: `"${publication.officeCode ?? ''}" is not an ST.3 code` });
      return;
    }
    const givenKind = publication.kindCode?.toUpperCase();
    const carriesKind = /\d ?[A-Za-z][0-9]?$/.test(publication.number.trim());
    const text = givenKind !== undefined && !carriesKind ? `${publication.number} ${givenKind}` : publication.number;
    const number = foreignNumberOf(office, text, 'publication');
    if (!number.ok) {
      problems.push({ field: givenKind !== undefined && !carriesKind && number.error.errorCode === 'UNKNOWN_KIND_CODE' ? `${field}/kindCode` : `${field}/number`, message: number.error.detail });
      return;
    }
    const kindCode = number.value.kindCode ?? givenKind;
    if (givenKind !== undefined && number.value.kindCode !== undefined && givenKind !== number.value.kindCode) {
      problems.push({ field: `${field}/kindCode`, message: `${givenKind} differs from the kind code ${number.value.kindCode} in the number` });
      return;
    }
    if (kindCode === undefined) {
      problems.push({ field: `${field}/kindCode`, message: 'is required: the number carries no ST.16 kind code' });
      return;
    }
    publications.push({ officeCode: office, number: number.value.number, kindCode, numberRaw: publication.number, date: publication.date });
  });

  if (problems.length > 0) throw unacceptableFields('INVALID_BIBLIOGRAPHIC_DATA', problems);
  return { priorities, publications };
}

export async function toApplicationView(em: EntityManager, application: Application): Promise<ApplicationView> {
  const priorities = await em.find(PriorityClaimEntity, { applicationId: application.id }, { orderBy: { position: 'asc' } });
  const publications = await em.find(PublicationEntity, { applicationId: application.id }, { orderBy: { position: 'asc' } });
  return {
    id: application.id,
    officeCode: application.officeCode,
    applicationNumber: application.applicationNumber,
    applicationNumberRaw: application.applicationNumberRaw,
    numberNormalized: application.numberNormalized,
    displayNumber: application.displayNumber,
    filingDate: application.filingDate,
    titles: application.titles,
    applicants: application.applicants,
    inventors: application.inventors,
    ipc: [...application.ipc],
    cpc: [...application.cpc],
    priorityClaims: priorities.map(({ officeCode, number, numberRaw, normalized, date }) => ({ officeCode, number, numberRaw, normalized, date })),
    publications: publications.map(({ officeCode, number, kindCode, numberRaw, date }) => ({ officeCode, number, kindCode, numberRaw, date })),
    published: application.published,
    familyId: application.providerFamilyId ?? null,
    pctApplication: application.pctApplicationNumber ?? null,
    ...(await familyIdsOf(em, application.id)),
    createdAt: application.createdAt.toISOString(),
    updatedAt: application.updatedAt.toISOString(),
  };
}

/** Bibliographic data pushed by a providing office: one upsert per application, replacing the previous record. */
export function createBiblioService({ em }: { em: EntityManager }) {
  return {
    /** Creates or replaces the application's bibliographic data; `created` tells which. Nothing is written when a field is refused. */
    async upsert(principal: Principal, rawOfficeCode: string, rawNumber: string, input: BiblioInput): Promise<{ created: boolean; application: ApplicationView }> {
      const { office } = await depositOffice(em, principal, rawOfficeCode, 'putApplication');
      const number = applicationNumberOf(office.code, rawNumber);
      const { priorities, publications } = checkBiblio(office.code, input);
      const pct = pctApplicationOf(input.pctApplication);
      const fields = {
        applicationNumberRaw: rawNumber,
        numberNormalized: number.normalized,
        displayNumber: number.display,
        filingDate: input.filingDate,
        titles: input.titles.map(({ languageCode, text }) => ({ languageCode, text: text.trim() })),
        applicants: input.applicants.map(({ name, countryCode }) => ({ name: name.trim(), ...(countryCode !== undefined ? { countryCode } : {}) })),
        inventors: input.inventors.map(({ name, countryCode }) => ({ name: name.trim(), ...(countryCode !== undefined ? { countryCode } : {}) })),
        ipc: unique(input.ipc.map(normaliseClassification)),
        cpc: unique(input.cpc.map(normaliseClassification)),
        published: input.published,
        providerFamilyId: input.familyId ?? null,
        pctApplicationNumber: pct,
      };

      const write = () =>
        em.transactional(async (tx) => {
          // Families are kept current in this transaction (docs/families.md): the row first, then the family lock, as every
          // writer. FOR NO KEY UPDATE, not FOR UPDATE: a family writer indexing this application on the spot checks
          // its key (FOR KEY SHARE) while this PUT waits for the family lock; FOR UPDATE would block it, a deadlock.
          const [locked] = await rawQuery<{ id: string }>(tx, 'select id from application where office_code = ? and application_number = ? for no key update', [
            office.code,
            number.number,
          ]);
          let application = locked ? await tx.findOneOrFail(ApplicationEntity, { id: locked.id }) : null;
          const created = application === null;
          if (application === null) {
            application = tx.create(ApplicationEntity, { id: uuidv7(), officeCode: office.code, applicationNumber: number.number, ...fields });
            tx.persist(application);
            await tx.flush();
          } else {
            tx.assign(application, fields);
            await tx.nativeDelete(PriorityClaimEntity, { applicationId: application.id });
            await tx.nativeDelete(PublicationEntity, { applicationId: application.id });
          }
          const applicationId = application.id;
          priorities.forEach((row, position) => tx.persist(tx.create(PriorityClaimEntity, { id: uuidv7(), applicationId, position, ...row })));
          publications.forEach((row, position) => tx.persist(tx.create(PublicationEntity, { id: uuidv7(), applicationId, position, ...row })));
          await tx.flush();
          await maintainFamilies(tx, [familyRecordOf(office.code, number.number, priorities, pct, input.familyId)]);
          return { created, application };
        });

      let outcome: { created: boolean; application: Application };
      try {
        outcome = await write();
      } catch (error) {
        // Another request created the application between our read and insert: update the row it created.
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        em.clear();
        outcome = await write();
      }
      return { created: outcome.created, application: await toApplicationView(em, outcome.application) };
    },
  };
}
