import Type, { type Static } from 'typebox';
import { MAX_NUMBER_LENGTH, type NormalizedNumber as NormalizedNumberValue } from './normalize.js';

/** A patent application or publication number in its normal form, beside the input. */
export const NormalizedNumber = Type.Object(
  {
    type: Type.Enum(['application', 'publication'], { description: 'Whether the number identifies an application or a publication' }),
    officeCode: Type.String({ pattern: '^[A-Z]{2}$', description: 'ST.3 code of the issuing office (WO for PCT applications)', examples: ['WO'] }),
    number: Type.String({ description: 'The normal form, without office code, separators or kind code', examples: ['CN2023123456'] }),
    kindCode: Type.Optional(Type.String({ pattern: '^[A-Z][0-9]?$', description: 'ST.16 kind code of a publication', examples: ['A1'] })),
    checkDigit: Type.Optional(Type.String({ pattern: '^[0-9X]$', description: 'Check digit of the application number (CN, EP: as typed, else computed; GB: as typed)' })),
    checkDigitValid: Type.Optional(Type.Boolean({ description: 'CN, EP: false when the typed check digit disagrees with the office’s algorithm (accepted, flagged)' })),
    raw: Type.String({ description: 'The input exactly as given' }),
    display: Type.String({ description: 'The office’s usual spelling; normalising it again gives the same value', examples: ['PCT/CN2023/123456'] }),
  },
  { $id: 'NormalizedNumber', additionalProperties: false },
);
export type NormalizedNumberView = Static<typeof NormalizedNumber>;

export const NormalizeNumberQuery = Type.Object({
  number: Type.String({
    minLength: 1,
    maxLength: MAX_NUMBER_LENGTH,
    description: 'The number as written, e.g. `US 17/123,456`, `PCT/CN2023/123456`, `EP 3 456 789 A1`',
    examples: ['PCT/CN2023/123456'],
  }),
  officeCode: Type.Optional(Type.String({ minLength: 2, maxLength: 3, description: 'ST.3 code of the issuing office when the number has no prefix (`PCT` is read as WO)', examples: ['US'] })),
  kind: Type.Optional(
    Type.Enum(['application', 'publication', 'any'], {
      default: 'any',
      description: '`any` reads a shape shared by applications and publications as the application unless a kind code is given',
    }),
  ),
});
export type NormalizeNumberQuery = Static<typeof NormalizeNumberQuery>;

// The schema and the function's result must stay the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameShape: Same<NormalizedNumberView, NormalizedNumberValue> = true;
void _sameShape;
