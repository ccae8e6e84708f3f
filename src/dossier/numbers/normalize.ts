/**
 * Patent number normalisation (DESIGN §5): one pure function that turns the ways people
 * and systems spell an application or publication number into one normal form per
 * office, keeping the raw input beside it. The table of accepted spellings per office is
 * in docs/numbers.md; the office rules themselves are in offices.ts.
 *
 * Pipeline:
 * 1. Input of more than 64 characters (code points) is refused. The rest is NFKC-normalised
 *    (full-width digits and letters, ideographic spaces, full-width `／ ， ．`), dash look-alikes
 *    become `-`, middle dots (CNIPA's `·`) become `.`, letters are upper-cased, whitespace
 *    collapses to one space, and spaces around `/ . , -` are dropped.
 * 2. The office comes from the prefix (the ST.3 code; `PCT…` is WO; `ZL…` is CN; `U.S.` is
 *    US; Japanese 特願/特開/特表/特許 spellings are JP) or from `officeCode` when the number has
 *    none. A prefix that is not an ST.3 code gives UNKNOWN_OFFICE_CODE; an ST.3 office without
 *    rules here gives UNSUPPORTED_OFFICE; a prefix naming another office than `officeCode`
 *    gives OFFICE_MISMATCH.
 * 3. A trailing ST.16 kind code (a letter and an optional digit, after a digit or a space)
 *    marks a publication and must be one the office uses (else UNKNOWN_KIND_CODE).
 * 4. The office's forms are tried in order. Without a kind code, `kind: 'any'` reads a shape
 *    shared by applications and publications (JP, KR, AU, CA, GB, 8-digit US) as the
 *    application; a kind code, `kind: 'publication'` or a designation such as "U.S. Pat. No."
 *    or 特開 selects the publication reading. No form matching gives UNRECOGNISED_NUMBER.
 *
 * Every refusal is a 422 UnprocessableError whose detail names the expected form(s) and whose
 * `expected` extension lists them, e.g. `CN YYYYTNNNNNNN.C (e.g. CN 202310001234.7)`.
 *
 * Choices where offices leave room:
 * - Check digits. CN: part of the number as CNIPA writes it (`202310001234.7`), also given as
 *   `checkDigit`; computed when left out, kept as typed otherwise, with `checkDigitValid` false
 *   when it disagrees with CNIPA's algorithm (flagged, not refused). EP: kept
 *   apart from the 8-digit number (`number: '15150367'`, `checkDigit: '9'`) and shown in
 *   `display`; likewise computed or checked (Luhn), never refused. GB: the UKIPO does not publish its
 *   algorithm, so a typed check digit is kept in `checkDigit` as given and the number is the
 *   7 digits either way. `number` alone is the identity key in every case.
 * - PCT applications: `PCT/CN2023/123456` → WO `CN2023123456`; the pre-2004 numbering
 *   `PCT/GB99/01234` is widened to the same layout, WO `GB1999001234` (years 78–99 → 19xx,
 *   00–03 → 20xx; serial zero-padded to 6). WO publications likewise: `WO 99/12345` → `1999012345`.
 * - US: an 8-digit number without kind code is an application (`17123456`); grouped in
 *   thousands (`11,234,567`), 6–7 digits, or with a kind code it is a granted patent.
 *   Pre-grant publications are `YYYY` + 7 digits (`20210123456`), also from the 10-digit
 *   DOCDB spelling. Design, reissue and plant patents keep their letters (`D912345`).
 * - JP: era years (昭和/S, 平成/H, 令和/R) become Gregorian years, so `特願平22-001234`,
 *   `平成22年特許願第001234号` and `JP 2010-001234` all give `2010001234`. Unexamined
 *   publications (特開/特表) are kind A when no kind code is typed.
 * - KR: KIPO's right code stays in the number (`1020200012345`); unexamined publications
 *   are kind A (patents) or U (utility models) when none is typed.
 * - GB: `YYNNNNN[.C]` is an application (also old numbers such as `GB 1234567`); a publication
 *   needs a kind code or the UKIPO grouping `GB 2 590 123`.
 * - AU, CA: publication numbers repeat the application number, so a publication needs its
 *   kind code (or `kind: 'publication'`).
 * `display` is the office's usual spelling, with the kind code; normalising it again gives
 * the same value (for AU and CA publications without kind code, under the same `kind`).
 */
import { isSt3Code } from '../../access/st3.js';
import { AppError, UnprocessableError } from '../../platform/errors.js';
import { OFFICE_RULES, SUPPORTED_OFFICES, type NumberType, type OfficeRules } from './offices.js';

export type { NumberType } from './offices.js';
export { SUPPORTED_OFFICES } from './offices.js';

export type NumberKind = NumberType | 'any';

export interface NormalizeOptions {
  /** The issuing office when the number carries no prefix (ST.3 code; `PCT` is read as WO). */
  officeCode?: string;
  /** Which kind of number is expected; `any` (default) prefers the application reading of shapes both share. */
  kind?: NumberKind;
}

export interface NormalizedNumber {
  type: NumberType;
  /** ST.3 code of the issuing office (WO for PCT applications and WO publications). */
  officeCode: string;
  /** The normal form: digits (and, for some offices, letters or the check digit) without separators or kind code. */
  number: string;
  /** ST.16 kind code of a publication, as typed or implied by the form. */
  kindCode?: string;
  /** The application number's check digit (CN, EP: as typed, else computed; GB: as typed). */
  checkDigit?: string;
  /** CN and EP: whether the check digit agrees with the office's algorithm. */
  checkDigitValid?: boolean;
  /** The input exactly as given. */
  raw: string;
  /** The office's usual spelling, e.g. `US 17/123,456`, `PCT/CN2023/123456`, `EP 3456789 A1`. */
  display: string;
}

export type NormalizeResult = { ok: true; value: NormalizedNumber } | { ok: false; error: AppError };

export const MAX_NUMBER_LENGTH = 64;

const KINDS: readonly NumberKind[] = ['application', 'publication', 'any'];
/** Scripts that only Japanese spellings (特願…, 平成…年) use. */
const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff]/;
const KANJI_ERAS: Record<string, string> = { 昭和: 'S', 昭: 'S', 平成: 'H', 平: 'H', 令和: 'R', 令: 'R' };
/** US citation designations: "U.S. Pat. No.", "US Patent Application Publication No.", "USSN", "Appl. No." … */
const US_DESIGNATION =
  /^(?:(PAT(?:ENT)?[. ]*APPL?(?:ICATION|N)?[. ]*PUB(?:LICATION|L)?)|(PAT(?:ENT)?[. ]*APPL?(?:ICATION|N)?)|(PAT(?:ENT)?[. ]*PUB(?:LICATION|L)?|PUB(?:LICATION|L)?)|(PAT(?:ENT)?)|(APPL?(?:ICATION|N)?|SER(?:IAL)?|S[. ]?N))(?=[. #]|NO|NUMBER|\d)[. ]*(?:(?:NOS?|NUMBER)(?=[. #]|\d)[. ]*)?#? ?/;
/** A trailing ST.16 kind code after a digit (and an optional space). */
const TRAILING_KIND = /^(.*\d) ?([A-Z][0-9]?)$/;

/** The normal form of a patent application or publication number; throws a 422 AppError when it is none. */
export function normalizeNumber(raw: string, options: NormalizeOptions = {}): NormalizedNumber {
  if (typeof raw !== 'string') throw unrecognised('The number must be a string', overview());
  const shown = quote(raw);
  if ([...raw].length > MAX_NUMBER_LENGTH) {
    throw unrecognised(`The number is longer than ${MAX_NUMBER_LENGTH} characters; expected a number such as ${examples()}`, overview());
  }
  const requested = options.kind ?? 'any';
  if (!KINDS.includes(requested)) throw unrecognised(`kind must be one of ${KINDS.join(', ')}`, overview());
  const given = options.officeCode === undefined ? undefined : officeFromOption(options.officeCode);

  const text = clean(raw);
  if (text === '' || text.length > MAX_NUMBER_LENGTH * 2 || !/\d/.test(text)) {
    const expected = given ? expectedForms(given, requested) : overview();
    const problem = text === '' ? 'The number is empty' : `${shown} is not a patent number`;
    throw unrecognised(`${problem}; expected ${given ? expected.join('; ') : `a number such as ${examples()}`}`, expected);
  }

  const located = locate(text, shown, given);
  const rules = OFFICE_RULES[located.office];
  if (!rules) {
    throw new UnprocessableError(
      'UNSUPPORTED_OFFICE',
      `${shown} is a number of office ${located.office}, for which the hub has no number rules; expected a number of ${SUPPORTED_OFFICES.join(', ')}, such as ${examples()}`,
      { expected: overview(), officeCode: located.office, supportedOffices: SUPPORTED_OFFICES },
    );
  }
  try {
    return { ...parseBody(rules, located.body, located.hint, requested, shown), raw };
  } catch (error) {
    if (located.foreignPrefix && error instanceof AppError) {
      const expected = expectedForms(rules, requested);
      throw new UnprocessableError(
        'OFFICE_MISMATCH',
        `${shown} starts with the office code ${located.foreignPrefix}, but officeCode is ${rules.code}; expected ${expected.join('; ')}`,
        { expected, officeCode: rules.code, prefix: located.foreignPrefix },
      );
    }
    throw error;
  }
}

/**
 * Like normalizeNumber, but returns the refusal instead of throwing it (for bulk callers, and for the readings a
 * number lookup tries, most of which fail). Refusals here are answers, not faults to trace: they are built without a
 * stack, which was the costliest part of a failed reading (a tenth of the hub's time on number lookups).
 */
export function tryNormalizeNumber(raw: string, options: NormalizeOptions = {}): NormalizeResult {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return { ok: true, value: normalizeNumber(raw, options) };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, error };
    // A fault, not a refusal: fail again (normalizeNumber is pure) with stacks on, so it is thrown with its stack.
    Error.stackTraceLimit = stackTraceLimit;
    normalizeNumber(raw, options);
    throw error;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** Step 1: one spelling of separators, case and width. */
function clean(raw: string): string {
  return raw
    .normalize('NFKC')
    .replace(/[\u2010-\u2015\u2212\u30fc\ufe58\ufe63\uff0d]/g, '-')
    .replace(/[\u00b7\u2022\u2027\u30fb\u3002\uff61]/g, '.')
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/ ?([/.,-]) ?/g, '$1');
}

function officeFromOption(value: string): OfficeRules | string {
  const code = value.normalize('NFKC').trim().toUpperCase();
  if (code === 'PCT') return OFFICE_RULES.WO ?? 'WO';
  if (/^[A-Z]{2}$/.test(code) && isSt3Code(code)) return OFFICE_RULES[code] ?? code;
  throw new UnprocessableError('UNKNOWN_OFFICE_CODE', `officeCode ${quote(value)} is not a WIPO ST.3 office code; expected one of ${SUPPORTED_OFFICES.join(', ')} (or PCT), for a number such as ${examples()}`, {
    expected: overview(),
    code: value,
  });
}

interface Located {
  office: string;
  body: string;
  /** The type the spelling itself names (特願, "U.S. Pat. No." …). */
  hint?: NumberType;
  /** An ST.3 code other than `officeCode` at the start of the number. */
  foreignPrefix?: string;
}

/** Step 2: the office and the body after its prefix. */
function locate(text: string, shown: string, given: OfficeRules | string | undefined): Located {
  const givenCode = typeof given === 'string' ? given : given?.code;
  const prefixed = (office: string, body: string, hint?: NumberType): Located => {
    if (givenCode !== undefined && office !== givenCode) {
      const expected = expectedForms(given ?? givenCode, 'any');
      throw new UnprocessableError('OFFICE_MISMATCH', `${shown} is a number of office ${office}, but officeCode is ${givenCode}; expected ${expected.join('; ')}`, {
        expected,
        officeCode: givenCode,
        prefix: office,
      });
    }
    return { office, body: body.replace(/^[ /-]+/, ''), ...(hint ? { hint } : {}) };
  };

  if (JAPANESE.test(text)) {
    const japanese = parseJapanese(text);
    if (!japanese) {
      const expected = expectedForms(OFFICE_RULES.JP ?? 'JP', 'any');
      throw unrecognised(`${shown} is not a recognised Japanese application or publication number; expected ${expected.join('; ')}`, expected);
    }
    return prefixed('JP', japanese.body, japanese.hint);
  }
  const us = /^U\.S\.?(?=[ A-Z0-9#]|$)/.exec(text);
  if (us) return prefixed('US', text.slice(us[0].length));
  if (/^PCT(?:[ /]|[A-Z]{2}\d)/.test(text)) return prefixed('WO', text);
  if (/^ZL ?\d/.test(text)) return prefixed('CN', text);

  const letters = /^[A-Z]{2}/.exec(text)?.[0];
  if (givenCode !== undefined) {
    if (letters === givenCode) return { office: givenCode, body: text.slice(2).replace(/^[ /-]+/, '') };
    // Letters may begin the body itself (US D/RE/PP, JP era initials, a PCT receiving office).
    const foreign = letters !== undefined && letters !== givenCode && isSt3Code(letters) && /^[A-Z]{2}(?:[ /.,-]|\d|$)/.test(text);
    return { office: givenCode, body: text, ...(foreign ? { foreignPrefix: letters } : {}) };
  }
  if (letters === undefined) {
    throw unrecognised(`${shown} does not say which office issued it: expected the office's ST.3 code first (or officeCode), as in ${examples()}`, overview());
  }
  if (!isSt3Code(letters)) {
    throw new UnprocessableError(
      'UNKNOWN_OFFICE_CODE',
      `${shown} starts with "${letters}", which is not a WIPO ST.3 office code; expected a number such as ${examples()}`,
      { expected: overview(), code: letters },
    );
  }
  return prefixed(letters, text.slice(2));
}

/** Japanese spellings: 特願2010-001234, 特願平22-001234, 平成22年特許願第001234号, 特開2021-123456号公報, 特許第6789012号. */
function parseJapanese(text: string): { body: string; hint: NumberType } | undefined {
  const era = (name: string | undefined): string => (name === undefined ? '' : (KANJI_ERAS[name] ?? ''));
  const short = /^(?:JP ?)?特(願|許出願|開|表) ?(昭和|平成|令和|昭|平|令)?(\d{1,4})-(\d{1,6}) ?(?:号)?(?:公報)?$/.exec(text);
  if (short) {
    const hint = short[1] === '開' || short[1] === '表' ? 'publication' : 'application';
    return { body: `${era(short[2])}${short[3] ?? ''}-${short[4] ?? ''}`, hint };
  }
  const long = /^(?:JP ?)?(昭和|平成|令和)?(\d{1,4})年 ?特許願 ?第 ?(\d{1,6}) ?号$/.exec(text);
  if (long) return { body: `${era(long[1])}${long[2] ?? ''}-${long[3] ?? ''}`, hint: 'application' };
  const granted = /^(?:JP ?)?特許 ?(?:第 ?)?(\d{7}) ?(?:号)?(?:公報)?$/.exec(text);
  if (granted) return { body: granted[1] ?? '', hint: 'publication' };
  return undefined;
}

/** Steps 3 and 4: the kind code, then the office's forms. */
function parseBody(rules: OfficeRules, body: string, spelledHint: NumberType | undefined, requested: NumberKind, shown: string): Omit<NormalizedNumber, 'raw'> {
  let rest = body;
  let hint = spelledHint;
  if (rules.code === 'US') {
    const designation = US_DESIGNATION.exec(rest);
    if (designation && designation[0] !== '') {
      hint = designation[2] !== undefined || designation[5] !== undefined ? 'application' : 'publication';
      rest = rest.slice(designation[0].length);
    }
  }

  let kindCode: string | undefined;
  const trailing = TRAILING_KIND.exec(rest);
  if (trailing) {
    rest = trailing[1] ?? '';
    kindCode = trailing[2];
  }
  if (kindCode !== undefined && !rules.kindCodes.includes(kindCode)) {
    throw new UnprocessableError(
      'UNKNOWN_KIND_CODE',
      `${shown} ends with "${kindCode}", which is not an ST.16 kind code of ${rules.code} (${rules.kindCodes.join(', ')}); expected ${expectedForms(rules, 'publication').join('; ')}`,
      { expected: expectedForms(rules, 'publication'), kindCodes: rules.kindCodes },
    );
  }

  let want = requested;
  if (hint !== undefined) {
    if (want !== 'any' && want !== hint) {
      throw unrecognised(`${shown} is written as ${article(hint)} number, but kind is ${want}; expected ${expectedForms(rules, want).join('; ')}`, expectedForms(rules, want));
    }
    want = hint;
  }
  if (kindCode !== undefined) {
    if (want === 'application') {
      throw unrecognised(
        `${shown} ends with the kind code ${kindCode}, which marks a publication; an application number has none: expected ${expectedForms(rules, 'application').join('; ')}`,
        expectedForms(rules, 'application'),
      );
    }
    want = 'publication';
  }

  for (const form of rules.forms) {
    if (want !== 'any' && form.type !== want) continue;
    if (form.explicitOnly && want === 'any') continue;
    const match = form.pattern.exec(rest);
    if (!match) continue;
    const parsed = form.build(match, kindCode);
    if (!parsed) continue;
    const kind = kindCode ?? parsed.impliedKind;
    return {
      type: form.type,
      officeCode: rules.code,
      number: parsed.number,
      ...(kind !== undefined ? { kindCode: kind } : {}),
      ...(parsed.checkDigit !== undefined ? { checkDigit: parsed.checkDigit } : {}),
      ...(parsed.checkDigitValid !== undefined ? { checkDigitValid: parsed.checkDigitValid } : {}),
      display: kind !== undefined ? `${parsed.display} ${kind}` : parsed.display,
    };
  }
  const expected = expectedForms(rules, want);
  const what = want === 'any' ? 'application or publication' : want;
  throw unrecognised(`${shown} is not a recognised ${rules.code} ${what} number; expected ${expected.join('; ')}`, expected);
}

/** The forms of an office (of one type, or all), as `SHAPE (e.g. EXAMPLE)`. */
export function expectedForms(office: OfficeRules | string, kind: NumberKind): string[] {
  if (typeof office === 'string') return overview();
  const forms = [...office.forms, ...(office.otherForms ?? [])].filter((form) => kind === 'any' || form.type === kind);
  return [...new Set(forms.map((form) => `${form.shape} (e.g. ${form.example})`))];
}

/** Example numbers of every office, for messages that name no office. */
function examples(): string {
  return `${overview()
    .map((form) => /\(e\.g\. (.*)\)$/.exec(form)?.[1] ?? form)
    .join(', ')}`;
}

/** One application form per office, then a publication: for errors that name no office. */
function overview(): string[] {
  const order = ['CN', 'US', 'EP', 'JP', 'KR', 'WO', 'AU', 'CA', 'GB'];
  const forms = order.flatMap((code) => {
    const first = OFFICE_RULES[code]?.forms[0];
    return first ? [`${first.shape} (e.g. ${first.example})`] : [];
  });
  return [...forms, 'CC NNNNNNN K, a publication with its ST.16 kind code (e.g. EP 3456789 A1)'];
}

function unrecognised(detail: string, expected: string[]): UnprocessableError {
  const sentence = detail.includes('expected') ? detail : `${detail}; expected ${expected.join('; ')}`;
  return new UnprocessableError('UNRECOGNISED_NUMBER', sentence, { expected });
}

function article(type: NumberType): string {
  return type === 'application' ? 'an application' : 'a publication';
}

/** The input quoted for a message, control characters escaped. */
function quote(value: string): string {
  const chars = [...value];
  return JSON.stringify(chars.length > MAX_NUMBER_LENGTH ? `${chars.slice(0, MAX_NUMBER_LENGTH).join('')}…` : value);
}
