import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.js';
import { canSeeDocument, canSeeForum, type DocumentStatus, type DocumentVisibility, type VisibilityFacts } from '../../src/access/visibility.js';

const VISIBILITIES: DocumentVisibility[] = ['public', 'offices', 'restricted'];
const STATUSES: DocumentStatus[] = ['active', 'withdrawn', 'superseded'];
const BOOLEANS = [true, false];
const OFFICE_STATUSES = ['active', 'suspended'] as const;

/** Principals of the providing office EP, of another office JP, and without an office. */
const PRINCIPALS: Principal[] = [
  { kind: 'anonymous' },
  { kind: 'operator', userId: 'op' },
  { kind: 'officeAdmin', userId: 'a-ep', officeCode: 'EP' },
  { kind: 'examiner', userId: 'e-ep', officeCode: 'EP', branchId: 'b1' },
  { kind: 'client', clientId: 'c-ep', officeCode: 'EP', branchId: 'b2' },
  { kind: 'officeAdmin', userId: 'a-jp', officeCode: 'JP' },
  { kind: 'examiner', userId: 'e-jp', officeCode: 'JP', branchId: 'b3' },
  { kind: 'client', clientId: 'c-jp', officeCode: 'JP', branchId: 'b4' },
];

/** Every combination of document, application, provider and reader-office facts. */
function* everyCase(): Generator<{ principal: Principal; facts: VisibilityFacts }> {
  for (const principal of PRINCIPALS)
    for (const visibility of VISIBILITIES)
      for (const status of STATUSES)
        for (const allowedOffices of [[], ['JP'], ['KR']])
          for (const published of BOOLEANS)
            for (const providerStatus of OFFICE_STATUSES)
              for (const publicAccess of BOOLEANS)
                for (const readerStatus of OFFICE_STATUSES)
                  for (const accessing of BOOLEANS) {
                    const ownOffice = 'officeCode' in principal ? principal.officeCode : null;
                    yield {
                      principal,
                      facts: {
                        document: { officeCode: 'EP', visibility, allowedOffices, status },
                        application: { published },
                        providingOffice: { status: providerStatus, publicAccess },
                        principalOffice: ownOffice === null ? null : { code: ownOffice, status: readerStatus, accessing },
                      },
                    };
                  }
}

describe('the visibility rule (DESIGN §3), over every combination', () => {
  const cases = [...everyCase()];

  it('covers every combination', () => {
    expect(cases.length).toBe(PRINCIPALS.length * 3 * 3 * 3 * 2 * 2 * 2 * 2 * 2);
  });

  it('1. lets the providing office (admin, every branch, clients) see all of its documents', () => {
    for (const { principal, facts } of cases) {
      if ('officeCode' in principal && principal.officeCode === 'EP') expect(canSeeDocument(principal, facts)).toBe(true);
    }
  });

  it('2. hides from everyone else what is withdrawn, superseded, unpublished or from a suspended provider', () => {
    for (const { principal, facts } of cases) {
      if ('officeCode' in principal && principal.officeCode === 'EP') continue;
      const shareable = facts.document.status === 'active' && facts.application.published && facts.providingOffice.status === 'active';
      if (!shareable) expect(canSeeDocument(principal, facts), JSON.stringify({ principal, facts })).toBe(false);
    }
  });

  it('shows public documents to anonymous callers and the operator exactly when the provider consented', () => {
    for (const { principal, facts } of cases) {
      if (principal.kind !== 'anonymous' && principal.kind !== 'operator') continue;
      const expected =
        facts.document.visibility === 'public' &&
        facts.providingOffice.publicAccess &&
        facts.document.status === 'active' &&
        facts.application.published &&
        facts.providingOffice.status === 'active';
      expect(canSeeDocument(principal, facts), JSON.stringify(facts)).toBe(expected);
    }
  });

  it('shows public-without-consent and offices documents to active accessing offices only; restricted ones to listed offices only', () => {
    for (const { principal, facts } of cases) {
      if (!('officeCode' in principal) || principal.officeCode !== 'JP') continue;
      const shareable = facts.document.status === 'active' && facts.application.published && facts.providingOffice.status === 'active';
      const reader = facts.principalOffice;
      const activeAccessing = reader !== null && reader.status === 'active' && reader.accessing;
      let expected: boolean;
      if (!shareable) expected = false;
      else if (facts.document.visibility === 'public' && facts.providingOffice.publicAccess) expected = true;
      else if (facts.document.visibility === 'restricted') expected = activeAccessing && facts.document.allowedOffices.includes('JP');
      else expected = activeAccessing;
      expect(canSeeDocument(principal, facts), JSON.stringify(facts)).toBe(expected);
    }
  });

  it('keeps the forum to users of active offices', () => {
    expect(canSeeForum({ kind: 'anonymous' }, null)).toBe(false);
    expect(canSeeForum({ kind: 'operator', userId: 'op' }, null)).toBe(false);
    expect(canSeeForum({ kind: 'examiner', userId: 'e', officeCode: 'JP', branchId: 'b' }, { code: 'JP', status: 'active', accessing: true })).toBe(true);
    expect(canSeeForum({ kind: 'examiner', userId: 'e', officeCode: 'JP', branchId: 'b' }, { code: 'JP', status: 'suspended', accessing: true })).toBe(false);
  });
});
