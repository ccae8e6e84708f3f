/**
 * Office-specific number rules: the shapes each office's application and publication
 * numbers take, how each becomes the normal form, and how it is displayed. See
 * normalize.ts for the pipeline around them and docs/numbers.md for the table.
 *
 * A form's pattern is matched against the *body*: the input after NFKC, upper-casing,
 * whitespace collapsing, the removal of spaces around `/ . , -`, and with the office
 * prefix and the trailing kind code taken off.
 */
import { isSt3Code } from '../../access/st3.js';
import { UnprocessableError } from '../../platform/errors.js';
import { cnipaCheckDigit, epoCheckDigit } from './check-digits.js';

export type NumberType = 'application' | 'publication';

/** What a matching form makes of the body. */
export interface Parsed {
  number: string;
  /** The display form without the kind code, e.g. `US 17/123,456`; parsing it again gives the same number. */
  display: string;
  checkDigit?: string;
  /** False when a typed check digit disagrees with the office's algorithm (kept as typed, not refused). */
  checkDigitValid?: boolean;
  /** The kind code the form implies when none was typed (JP and KR unexamined publications). */
  impliedKind?: string;
}

export interface Form {
  type: NumberType;
  /** The shape in the notation of docs/numbers.md, e.g. `CN YYYYTNNNNNNN.C`. */
  shape: string;
  /** A valid number of this shape. */
  example: string;
  pattern: RegExp;
  /** The shape is also an application shape: read as a publication only with a kind code or `kind: 'publication'`. */
  explicitOnly?: boolean;
  /** The normal form, or undefined when the match is not a number after all (e.g. an impossible year). */
  build(match: RegExpExecArray, kindCode: string | undefined): Parsed | undefined;
}

export interface OfficeRules {
  code: string;
  /** ST.16 kind codes the office uses (as published by the office or in DOCDB). */
  kindCodes: readonly string[];
  /** Tried in order; the first match wins. */
  forms: readonly Form[];
  /** Further accepted spellings named in error messages (matched before the forms, see normalize.ts). */
  otherForms?: readonly { type: NumberType; shape: string; example: string }[];
}

const group = (match: RegExpExecArray, index: number): string => match[index] ?? '';
const thousands = (digits: string): string => digits.replace(/\B(?=(?:\d{3})+$)/g, ',');
const withoutLeadingZeros = (digits: string): string => digits.replace(/^0+/, '');

// ---------------------------------------------------------------- CN (CNIPA)

/**
 * A typed check digit that disagrees with CNIPA's algorithm is kept as typed and flagged,
 * not refused: providers' records carry such numbers, and the hub must accept what they
 * deposit (DESIGN §5's own example, CN 202310001234.5, is one).
 */
function cnApplication(digits: string, given: string | undefined): Parsed {
  const computed = cnipaCheckDigit(digits);
  const check = given ?? computed;
  return { number: `${digits}.${check}`, checkDigit: check, checkDigitValid: check === computed, display: `CN ${digits}.${check}` };
}

const CN: OfficeRules = {
  code: 'CN',
  kindCodes: ['A', 'B', 'C', 'U', 'Y', 'S', 'D'],
  forms: [
    {
      type: 'application',
      shape: 'CN YYYYTNNNNNNN.C',
      example: 'CN 202310001234.7',
      // Year, type (1 invention, 2 utility model, 3 design, 8/9 PCT national phase), serial; CNIPA allows a space around the type.
      pattern: /^(?:ZL ?)?(20\d{2}) ?([12389]) ?(\d{7})(?:\.([0-9X]))?$/,
      build: (match) => (Number(group(match, 1)) >= 2003 ? cnApplication(group(match, 1) + group(match, 2) + group(match, 3), match[4]) : undefined),
    },
    {
      type: 'application',
      shape: 'CN YYTNNNNN.C',
      example: 'CN 97101765.4',
      // Before October 2003: two-digit year (1985–2003), type, five-digit serial.
      pattern: /^(?:ZL ?)?(\d{2}) ?([12389]) ?(\d{5})(?:\.([0-9X]))?$/,
      build: (match) => {
        const year = Number(group(match, 1));
        return year >= 85 || year <= 3 ? cnApplication(group(match, 1) + group(match, 2) + group(match, 3), match[4]) : undefined;
      },
    },
    {
      type: 'publication',
      shape: 'CN NNNNNNNNN K',
      example: 'CN 112345678 A',
      pattern: /^(\d{3}) ?(\d{3}) ?(\d{3})$/,
      build: (match) => {
        const number = group(match, 1) + group(match, 2) + group(match, 3);
        return { number, display: `CN ${number}` };
      },
    },
    {
      type: 'publication',
      shape: 'CN NNNNNNN K',
      example: 'CN 1234567 A',
      // Before 2007.
      pattern: /^(\d{7})$/,
      build: (match) => ({ number: group(match, 1), display: `CN ${group(match, 1)}` }),
    },
  ],
};

// ---------------------------------------------------------------- US (USPTO)

function usApplication(match: RegExpExecArray): Parsed {
  const series = group(match, 1);
  const serial = group(match, 2) + group(match, 3);
  return { number: series + serial, display: `US ${series}/${serial.slice(0, 3)},${serial.slice(3)}` };
}

function usPreGrant(year: string, serial: string): Parsed {
  const padded = serial.padStart(7, '0');
  return { number: year + padded, display: `US ${year}/${padded}` };
}

/** Utility patents from US 100,000 on; leading zeros (USPTO bulk data pads to 8) are dropped. */
function usGrant(digits: string): Parsed | undefined {
  const number = withoutLeadingZeros(digits);
  return number.length >= 6 && number.length <= 8 ? { number, display: `US ${thousands(number)}` } : undefined;
}

/** Design (D), reissue (RE) and plant (PP) patents: the series letters and the number without leading zeros. */
function usLettered(series: string, digits: string): Parsed | undefined {
  const number = withoutLeadingZeros(digits);
  return number === '' ? undefined : { number: series + number, display: `US ${series}${thousands(number)}` };
}

const US: OfficeRules = {
  code: 'US',
  kindCodes: ['A', 'A1', 'A2', 'A9', 'B1', 'B2', 'C1', 'C2', 'C3', 'E', 'H', 'P1', 'P2', 'P3', 'P4', 'P9', 'S'],
  forms: [
    { type: 'application', shape: 'US SS/NNN,NNN', example: 'US 17/123,456', pattern: /^(\d{2})\/(\d{3})[ ,]?(\d{3})$/, build: usApplication },
    { type: 'application', shape: 'US SSNNNNNN', example: 'US 17123456', pattern: /^(\d{2})(\d{3})(\d{3})$/, build: usApplication },
    {
      type: 'publication',
      shape: 'US YYYY/NNNNNNN K',
      example: 'US 2021/0123456 A1',
      pattern: /^(20\d{2})[/-]?(\d{7})$/,
      build: (match) => usPreGrant(group(match, 1), group(match, 2)),
    },
    {
      type: 'publication',
      shape: 'US YYYYNNNNNN K',
      example: 'US 2021123456 A1',
      // The DOCDB/Espacenet spelling drops the serial's leading zero.
      pattern: /^(20\d{2})(\d{6})$/,
      build: (match) => usPreGrant(group(match, 1), group(match, 2)),
    },
    {
      type: 'publication',
      shape: 'US N,NNN,NNN K',
      example: 'US 11,234,567 B2',
      // Grouped in thousands, as patents are cited ("U.S. Pat. No. 7,654,321").
      pattern: /^(\d{1,2})[ ,](\d{3})[ ,](\d{3})$|^(\d{3}),(\d{3})$/,
      build: (match) => usGrant(match.slice(1).join('')),
    },
    { type: 'publication', shape: 'US NNNNNNN K', example: 'US 7654321 B2', pattern: /^(\d{6,7})$/, build: (match) => usGrant(group(match, 1)) },
    {
      type: 'publication',
      shape: 'US NNNNNNNN K',
      example: 'US 11234567 B2',
      explicitOnly: true,
      pattern: /^(\d{8})$/,
      build: (match) => usGrant(group(match, 1)),
    },
    {
      type: 'publication',
      shape: 'US DNNN,NNN K',
      example: 'US D912,345 S',
      pattern: /^D ?(\d{1,3}(?:,\d{3}){1,2}|\d{1,8})$/,
      build: (match) => usLettered('D', group(match, 1).replaceAll(',', '')),
    },
    {
      type: 'publication',
      shape: 'US RENN,NNN K',
      example: 'US RE49,123 E',
      pattern: /^RE ?(\d{1,3}(?:,\d{3}){1,2}|\d{1,8})$/,
      build: (match) => usLettered('RE', group(match, 1).replaceAll(',', '')),
    },
    {
      type: 'publication',
      shape: 'US PPNN,NNN K',
      example: 'US PP32,123 P2',
      pattern: /^PP ?(\d{1,3}(?:,\d{3}){1,2}|\d{1,8})$/,
      build: (match) => usLettered('PP', group(match, 1).replaceAll(',', '')),
    },
  ],
};

// ---------------------------------------------------------------- EP (EPO)

const EP: OfficeRules = {
  code: 'EP',
  kindCodes: ['A1', 'A2', 'A3', 'A4', 'A8', 'A9', 'B1', 'B2', 'B3', 'B8', 'B9'],
  forms: [
    {
      type: 'application',
      shape: 'EP YYNNNNNN.C',
      example: 'EP 15150367.9',
      pattern: /^(\d{2}) ?(\d{3}) ?(\d{3})(?:\.(\d))?$/,
      build: (match) => {
        const number = group(match, 1) + group(match, 2) + group(match, 3);
        // As for CN, a disagreeing typed check digit is flagged, not refused; the number (the identity) excludes it.
        const computed = epoCheckDigit(number);
        const check = match[4] ?? computed;
        return { number, checkDigit: check, checkDigitValid: check === computed, display: `EP ${number}.${check}` };
      },
    },
    {
      type: 'publication',
      shape: 'EP NNNNNNN K',
      example: 'EP 3456789 A1',
      pattern: /^(\d) ?(\d{3}) ?(\d{3})$|^(\d{3}) ?(\d{3})$/,
      build: (match) => {
        // Numbers below 1,000,000 are written with a leading zero (EP 0123456), as in DOCDB.
        const number = match.slice(1).join('').padStart(7, '0');
        return { number, display: `EP ${number}` };
      },
    },
  ],
};

// ---------------------------------------------------------------- JP (JPO)

/** Japanese era initials and the Gregorian year before each era's first year. */
const ERAS: Record<string, { offset: number; last: number }> = {
  S: { offset: 1925, last: 64 }, // Shōwa 昭和
  H: { offset: 1988, last: 31 }, // Heisei 平成
  R: { offset: 2018, last: 81 }, // Reiwa 令和 (to 2099, within the Gregorian forms)
};

/** `[era, eraYear, gregorianYear, serial]` → the year (Gregorian) and the zero-padded six-digit serial. */
function jpYearAndSerial(match: RegExpExecArray): { year: string; serial: string } | undefined {
  const era = match[1];
  let year = group(match, 3);
  if (era !== undefined) {
    const rule = ERAS[era];
    const eraYear = Number(group(match, 2));
    if (!rule || eraYear < 1 || eraYear > rule.last) return undefined;
    year = String(rule.offset + eraYear);
  }
  return { year, serial: group(match, 4).padStart(6, '0') };
}

const JP_DASHED = /^(?:([SHR])(\d{1,2})|((?:19|20)\d{2}))-(\d{1,6})$/;
const JP_PLAIN = /^(?:([SHR])(\d{2})|((?:19|20)\d{2}))(\d{6})$/;

function jpYearForm(type: NumberType, shape: string, example: string, pattern: RegExp): Form {
  return {
    type,
    shape,
    example,
    pattern,
    ...(type === 'publication' ? { explicitOnly: true } : {}),
    build: (match) => {
      const parts = jpYearAndSerial(match);
      if (!parts) return undefined;
      return {
        number: parts.year + parts.serial,
        display: `JP ${parts.year}-${parts.serial}`,
        // Every unexamined (特開) and national-phase (特表) publication is kind A.
        ...(type === 'publication' ? { impliedKind: 'A' } : {}),
      };
    },
  };
}

const JP: OfficeRules = {
  code: 'JP',
  kindCodes: ['A', 'A1', 'B', 'B1', 'B2', 'C', 'U', 'U1', 'Y', 'Y1', 'Y2', 'S'],
  forms: [
    jpYearForm('application', 'JP YYYY-NNNNNN', 'JP 2010-001234', JP_DASHED),
    jpYearForm('application', 'JP YYYYNNNNNN', 'JP 2010001234', JP_PLAIN),
    jpYearForm('publication', 'JP YYYY-NNNNNN K', 'JP 2021-123456 A', JP_DASHED),
    jpYearForm('publication', 'JP YYYYNNNNNN K', 'JP 2021123456 A', JP_PLAIN),
    {
      type: 'publication',
      shape: 'JP NNNNNNN K',
      example: 'JP 6789012 B2',
      pattern: /^(\d)[ ,]?(\d{3})[ ,]?(\d{3})$/,
      build: (match) => {
        const number = group(match, 1) + group(match, 2) + group(match, 3);
        return { number, display: `JP ${number}` };
      },
    },
  ],
  otherForms: [
    { type: 'application', shape: '特願YYYY-NNNNNN', example: '特願2010-001234' },
    { type: 'application', shape: '平成YY年特許願第NNNNNN号', example: '平成22年特許願第001234号' },
    { type: 'publication', shape: '特開YYYY-NNNNNN', example: '特開2021-123456' },
  ],
};

// ---------------------------------------------------------------- KR (KIPO)

/** KIPO prefixes: 10 patent, 20 utility model. */
function krDisplay(digits: string): string {
  return digits.length === 13 ? `KR ${digits.slice(0, 2)}-${digits.slice(2, 6)}-${digits.slice(6)}` : `KR ${digits.slice(0, 2)}-${digits.slice(2)}`;
}

const KR_APPLICATION = /^(10|20)[ -]?((?:19|20)\d{2})[ -]?(\d{7})$/;

const KR: OfficeRules = {
  code: 'KR',
  kindCodes: ['A', 'B1', 'B2', 'U', 'Y1', 'Y2', 'S'],
  forms: [
    {
      type: 'application',
      shape: 'KR 10-YYYY-NNNNNNN',
      example: 'KR 10-2020-0012345',
      pattern: KR_APPLICATION,
      build: (match) => {
        const number = group(match, 1) + group(match, 2) + group(match, 3);
        return { number, display: krDisplay(number) };
      },
    },
    {
      type: 'publication',
      shape: 'KR 10-YYYY-NNNNNNN K',
      example: 'KR 10-2021-0012345 A',
      explicitOnly: true,
      pattern: KR_APPLICATION,
      build: (match) => {
        const number = group(match, 1) + group(match, 2) + group(match, 3);
        return { number, display: krDisplay(number), impliedKind: group(match, 1) === '20' ? 'U' : 'A' };
      },
    },
    {
      type: 'publication',
      shape: 'KR YYYYNNNNNNN K',
      example: 'KR 20210012345 A',
      explicitOnly: true,
      // The DOCDB/Espacenet spelling drops KIPO's right code; the kind code tells patent (10) from utility model (20).
      pattern: /^((?:19|20)\d{2})(\d{7})$/,
      build: (match, kindCode) => {
        const right = kindCode?.startsWith('U') || kindCode?.startsWith('Y') ? '20' : '10';
        const number = right + group(match, 1) + group(match, 2);
        return { number, display: krDisplay(number), impliedKind: right === '20' ? 'U' : 'A' };
      },
    },
    {
      type: 'publication',
      shape: 'KR 10-NNNNNNN K',
      example: 'KR 10-2345678 B1',
      pattern: /^(10|20)[ -]?(\d{7})$/,
      build: (match) => {
        const number = group(match, 1) + group(match, 2);
        return { number, display: krDisplay(number) };
      },
    },
  ],
};

// ---------------------------------------------------------------- WO (WIPO, PCT)

/** Two-digit years of the numbering used until 2003 (the PCT started in 1978). */
function pctYear(twoDigits: string): string | undefined {
  const year = Number(twoDigits);
  if (year >= 78) return `19${twoDigits}`;
  if (year <= 3) return `20${twoDigits}`;
  return undefined;
}

function pctApplication(receivingOffice: string, year: string | undefined, serial: string): Parsed | undefined {
  if (!isSt3Code(receivingOffice) || receivingOffice === 'WO') {
    throw new UnprocessableError(
      'UNKNOWN_OFFICE_CODE',
      `"${receivingOffice}" is not a WIPO ST.3 code of a PCT receiving office (such as CN, EP, US, IB); expected PCT/CCYYYY/NNNNNN (e.g. PCT/CN2023/123456)`,
      { expected: ['PCT/CCYYYY/NNNNNN (e.g. PCT/CN2023/123456)'], code: receivingOffice },
    );
  }
  if (year === undefined) return undefined;
  const padded = serial.padStart(6, '0');
  return { number: `${receivingOffice}${year}${padded}`, display: `PCT/${receivingOffice}${year}/${padded}` };
}

function wipoPublication(year: string | undefined, serial: string): Parsed | undefined {
  if (year === undefined) return undefined;
  const padded = serial.padStart(6, '0');
  return { number: year + padded, display: `WO ${year}/${padded}` };
}

const WO: OfficeRules = {
  code: 'WO',
  kindCodes: ['A1', 'A2', 'A3', 'A4', 'A8', 'A9'],
  forms: [
    {
      type: 'application',
      shape: 'PCT/CCYYYY/NNNNNN',
      example: 'PCT/CN2023/123456',
      pattern: /^(?:PCT[/ ]?)?([A-Z]{2}) ?((?:19|20)\d{2})[/ ]?(\d{6})$/,
      build: (match) => pctApplication(group(match, 1), group(match, 2), group(match, 3)),
    },
    {
      type: 'application',
      shape: 'PCT/CCYY/NNNNN',
      example: 'PCT/GB99/01234',
      // Until 2003: two-digit year and five-digit serial, read as PCT/GB1999/001234.
      pattern: /^(?:PCT[/ ]?)?([A-Z]{2}) ?(\d{2})[/ ]?(\d{5,6})$/,
      build: (match) => pctApplication(group(match, 1), pctYear(group(match, 2)), group(match, 3)),
    },
    {
      type: 'publication',
      shape: 'WO YYYY/NNNNNN K',
      example: 'WO 2023/123456 A1',
      pattern: /^((?:19|20)\d{2})[/ ]?(\d{6})$/,
      build: (match) => wipoPublication(group(match, 1), group(match, 2)),
    },
    {
      type: 'publication',
      shape: 'WO YY/NNNNN K',
      example: 'WO 99/12345 A1',
      pattern: /^(\d{2})[/ ]?(\d{5,6})$/,
      build: (match) => wipoPublication(pctYear(group(match, 1)), group(match, 2)),
    },
  ],
};

// ---------------------------------------------------------------- AU (IP Australia)

const AU_APPLICATION = /^((?:19|20)\d{2})[/ ]?(\d{6})$/;

const AU: OfficeRules = {
  code: 'AU',
  kindCodes: ['A', 'A1', 'A4', 'A8', 'A9', 'B', 'B1', 'B2', 'B4', 'B8', 'B9', 'C', 'C1', 'C4', 'C8', 'C9'],
  forms: [
    {
      type: 'application',
      shape: 'AU YYYYNNNNNN',
      example: 'AU 2020123456',
      pattern: AU_APPLICATION,
      build: (match) => ({ number: group(match, 1) + group(match, 2), display: `AU ${group(match, 1)}${group(match, 2)}` }),
    },
    {
      type: 'publication',
      shape: 'AU YYYYNNNNNN K',
      example: 'AU 2020123456 A1',
      explicitOnly: true,
      pattern: AU_APPLICATION,
      build: (match) => ({ number: group(match, 1) + group(match, 2), display: `AU ${group(match, 1)}${group(match, 2)}` }),
    },
    {
      type: 'publication',
      shape: 'AU NNNNNN K',
      example: 'AU 712345 B2',
      // Patents granted on applications of the numbering before 2002.
      pattern: /^(\d{3}) ?(\d{3})$/,
      build: (match) => ({ number: group(match, 1) + group(match, 2), display: `AU ${group(match, 1)}${group(match, 2)}` }),
    },
  ],
};

// ---------------------------------------------------------------- CA (CIPO)

const CA_NUMBER = /^(?:(\d)[ ,]?)?(\d{3})[ ,]?(\d{3})$/;
const caBuild = (match: RegExpExecArray): Parsed => {
  const number = group(match, 1) + group(match, 2) + group(match, 3);
  return { number, display: `CA ${number}` };
};

const CA: OfficeRules = {
  code: 'CA',
  kindCodes: ['A', 'A1', 'C', 'E', 'F'],
  forms: [
    { type: 'application', shape: 'CA N,NNN,NNN', example: 'CA 3,123,456', pattern: CA_NUMBER, build: caBuild },
    { type: 'publication', shape: 'CA N,NNN,NNN K', example: 'CA 3123456 A1', explicitOnly: true, pattern: CA_NUMBER, build: caBuild },
  ],
};

// ---------------------------------------------------------------- GB (UKIPO)

const GB: OfficeRules = {
  code: 'GB',
  kindCodes: ['A', 'A8', 'A9', 'B', 'B8', 'B9', 'C', 'C8', 'C9'],
  forms: [
    {
      type: 'application',
      shape: 'GB YYNNNNN.C',
      example: 'GB 2012345.6',
      // The UKIPO's check digit algorithm is not published: a typed one is kept as given, not verified.
      pattern: /^(\d{2})(\d{5})(?:\.(\d))?$/,
      build: (match) => {
        const number = group(match, 1) + group(match, 2);
        const check = match[3];
        return check === undefined ? { number, display: `GB ${number}` } : { number, checkDigit: check, display: `GB ${number}.${check}` };
      },
    },
    {
      type: 'publication',
      shape: 'GB N NNN NNN K',
      example: 'GB 2 590 123 A',
      pattern: /^(\d)[ ,](\d{3})[ ,](\d{3})$/,
      build: (match) => ({ number: group(match, 1) + group(match, 2) + group(match, 3), display: `GB ${group(match, 1)} ${group(match, 2)} ${group(match, 3)}` }),
    },
    {
      type: 'publication',
      shape: 'GB NNNNNNN K',
      example: 'GB 2590123 A',
      explicitOnly: true,
      pattern: /^(\d)(\d{3})(\d{3})$/,
      build: (match) => ({ number: group(match, 1) + group(match, 2) + group(match, 3), display: `GB ${group(match, 1)} ${group(match, 2)} ${group(match, 3)}` }),
    },
  ],
};

/** The offices with number rules, by ST.3 code. */
export const OFFICE_RULES: Readonly<Record<string, OfficeRules>> = { AU, CA, CN, EP, GB, JP, KR, US, WO };

export const SUPPORTED_OFFICES: readonly string[] = Object.keys(OFFICE_RULES).sort();
