import { tryNormalizeNumber, type NormalizedNumber, type NumberKind } from './normalize.js';
import { UnprocessableError, type AppError } from '../../platform/errors.js';

/** A number as the deposit API keeps it: the normal form (or a plain canonical form), the raw input, and which it is. */
export interface KeptNumber {
  number: string;
  raw: string;
  /** True when the hub's rules for the office normalised it; false when it is only upper-cased and stripped of separators. */
  normalized: boolean;
  display: string;
  type?: NormalizedNumber['type'];
  kindCode?: string;
}

/**
 * The plain canonical form of a number of an office the hub has no rules for (e.g. DE): NFKC, upper case,
 * letters and digits only, without a leading office code. Null when nothing number-like is left.
 */
export function canonicalOnly(raw: string, officeCode: string): string | null {
  let text = raw.normalize('NFKC').toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (text.startsWith(officeCode) && /\d/.test(text.slice(officeCode.length, officeCode.length + 1))) text = text.slice(officeCode.length);
  return /\d/.test(text) && text.length <= 64 ? text : null;
}

/**
 * The application number of a path, in its normal form (DESIGN §5): 422 with the expected forms when it has none.
 * An office the hub has no number rules for keeps the canonical-only form, flagged `normalized: false`.
 */
export function applicationNumberOf(officeCode: string, raw: string): KeptNumber {
  const result = tryNormalizeNumber(raw, { officeCode, kind: 'application' });
  if (result.ok) return { number: result.value.number, raw, normalized: true, display: result.value.display, type: 'application' };
  const fallback = result.error.errorCode === 'UNSUPPORTED_OFFICE' ? canonicalOnly(raw, officeCode) : null;
  if (fallback === null) throw result.error;
  return { number: fallback, raw, normalized: false, display: `${officeCode} ${fallback}`, type: 'application' };
}

/**
 * A number of another document (a priority, a publication, a citation): normalised when the office has rules,
 * else kept in its canonical-only form. Returns the refusal for a number the rules do not recognise.
 */
export function foreignNumberOf(officeCode: string, raw: string, kindOf: NumberKind): { ok: true; value: KeptNumber } | { ok: false; error: AppError } {
  const result = tryNormalizeNumber(raw, { officeCode, kind: kindOf });
  if (result.ok) {
    const { number, display, type, kindCode } = result.value;
    return { ok: true, value: { number, raw, normalized: true, display, type, ...(kindCode !== undefined ? { kindCode } : {}) } };
  }
  if (result.error.errorCode === 'UNSUPPORTED_OFFICE') {
    // A trailing ST.16 kind code (after a digit) is kept apart, as the rules of other offices do.
    const kind = kindOf === 'application' ? null : /^(.*\d)[\s-]*([A-Z][0-9]?)$/.exec(raw.normalize('NFKC').toUpperCase().trim());
    const fallback = canonicalOnly(kind?.[1] ?? raw, officeCode);
    if (fallback !== null) {
      return { ok: true, value: { number: fallback, raw, normalized: false, display: `${officeCode} ${fallback}${kind?.[2] ? ` ${kind[2]}` : ''}`, ...(kind?.[2] ? { kindCode: kind[2] } : {}) } };
    }
    return { ok: false, error: new UnprocessableError('UNRECOGNISED_NUMBER', `"${raw}" is not a patent number`) };
  }
  return { ok: false, error: result.error };
}

