import Type from 'typebox';
import { tryNormalizeNumber } from '../dossier/numbers/normalize.js';
import { familyKey, type FamilyRecord } from '../dossier/families/family-store.js';
import { unacceptableFields } from './fields.js';

/** The biblio field of a PCT national or regional phase entry: its international application. */
export const PctApplicationField = Type.Optional(
  Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], {
    description:
      'For a PCT national or regional phase entry: its international application (`PCT/CN2023/123456`, or the WO normal form `CN2023123456`). The entry joins the families of the international application (docs/families.md).',
    examples: ['PCT/CN2023/123456'],
  }),
);

/**
 * The international application's WO number in normal form (null when none is given); 422
 * INVALID_BIBLIOGRAPHIC_DATA naming `field` when it is not a PCT application number.
 */
export function pctApplicationOf(raw: string | null | undefined, field = '/body/pctApplication'): string | null {
  if (raw === undefined || raw === null) return null;
  const result = tryNormalizeNumber(raw, { officeCode: 'WO', kind: 'application' });
  if (!result.ok || result.value.officeCode !== 'WO' || result.value.type !== 'application') {
    throw unacceptableFields('INVALID_BIBLIOGRAPHIC_DATA', [{ field, message: `"${raw}" is not a PCT international application number (e.g. PCT/CN2023/123456)` }]);
  }
  return result.value.number;
}

/** What family maintenance needs of a bibliographic record. */
export function familyRecordOf(
  officeCode: string,
  applicationNumber: string,
  priorities: readonly { officeCode: string; number: string }[],
  pctApplicationNumber: string | null,
  providerFamilyId: string | null | undefined,
): FamilyRecord {
  return {
    officeCode,
    applicationNumber,
    priorities: priorities.map((claim) => familyKey(claim.officeCode, claim.number)),
    pctApplicationNumber,
    providerFamilyId: providerFamilyId ?? null,
  };
}
