import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeNumber, tryNormalizeNumber, type NormalizedNumber, type NormalizeOptions } from '../../src/dossier/index.js';
import { cnipaCheckDigit, epoCheckDigit } from '../../src/dossier/numbers/check-digits.js';
import { OFFICE_RULES } from '../../src/dossier/numbers/offices.js';
import { AppError } from '../../src/platform/errors.js';

type Expected = Omit<NormalizedNumber, 'raw'>;

/** CN and EP check their check digits (`checkDigitValid`); GB keeps its as typed. */
function application(officeCode: string, number: string, display: string, checkDigit?: string, checkDigitValid = true): Expected {
  const checked = checkDigit !== undefined && (officeCode === 'CN' || officeCode === 'EP');
  return { type: 'application', officeCode, number, ...(checkDigit !== undefined ? { checkDigit } : {}), ...(checked ? { checkDigitValid } : {}), display };
}

function publication(officeCode: string, number: string, display: string, kindCode?: string): Expected {
  return { type: 'publication', officeCode, number, ...(kindCode !== undefined ? { kindCode } : {}), display };
}

/** The value without the input it came from. */
function normal(value: NormalizedNumber): Expected {
  const { raw: _raw, ...rest } = value;
  return rest;
}

const CN_2023 = application('CN', '202310001234.7', 'CN 202310001234.7', '7');
const US_17 = application('US', '17123456', 'US 17/123,456');

/** Spellings met in office systems, citations, priority claims and databases (Espacenet/DOCDB, J-PlatPat, KIPRIS …). */
const SPELLINGS: [raw: string, options: NormalizeOptions, expected: Expected][] = [
  // CN: applications (check digit computed when left out), publications
  ['CN 202310001234.7', {}, CN_2023],
  ['CN202310001234.7', {}, CN_2023],
  ['cn202310001234', {}, CN_2023],
  ['202310001234.7', { officeCode: 'CN' }, CN_2023],
  ['ＣＮ２０２３１０００１２３４．７', {}, CN_2023],
  ['CN 202310001234·7', {}, CN_2023],
  ['  CN 2023 1 0001234.7 ', {}, CN_2023],
  ['ZL 201710601862.3', {}, application('CN', '201710601862.3', 'CN 201710601862.3', '3')],
  ['CN 202380012348.X', {}, application('CN', '202380012348.X', 'CN 202380012348.X', 'X')],
  ['cn 202380012348.x', {}, application('CN', '202380012348.X', 'CN 202380012348.X', 'X')],
  ['CN 97101765.4', {}, application('CN', '97101765.4', 'CN 97101765.4', '4')],
  ['CN 03123456', {}, application('CN', '03123456.9', 'CN 03123456.9', '9')],
  ['CN 112345678 A', {}, publication('CN', '112345678', 'CN 112345678 A', 'A')],
  ['CN112345678B', {}, publication('CN', '112345678', 'CN 112345678 B', 'B')],
  ['CN 212345678 U', {}, publication('CN', '212345678', 'CN 212345678 U', 'U')],
  ['CN 1234567 A', {}, publication('CN', '1234567', 'CN 1234567 A', 'A')],
  // US: applications (series code + serial), pre-grant publications, patents
  ['US 17/123,456', {}, US_17],
  ['us17123456', {}, US_17],
  ['17/123,456', { officeCode: 'US' }, US_17],
  ['U.S. Appl. No. 17/123,456', {}, US_17],
  ['U.S. Patent Application No. 17/123,456', {}, US_17],
  ['USSN 16/987,654', {}, application('US', '16987654', 'US 16/987,654')],
  ['US 29/789,012', {}, application('US', '29789012', 'US 29/789,012')],
  ['US 2021/0123456 A1', {}, publication('US', '20210123456', 'US 2021/0123456 A1', 'A1')],
  ['US20210123456A1', {}, publication('US', '20210123456', 'US 2021/0123456 A1', 'A1')],
  ['US 2021-0123456 A1', {}, publication('US', '20210123456', 'US 2021/0123456 A1', 'A1')],
  ['US2021123456A1', {}, publication('US', '20210123456', 'US 2021/0123456 A1', 'A1')],
  ['US Patent Application Publication No. 2019/0012345', {}, publication('US', '20190012345', 'US 2019/0012345')],
  ['US 11,234,567 B2', {}, publication('US', '11234567', 'US 11,234,567 B2', 'B2')],
  ['US11234567B2', {}, publication('US', '11234567', 'US 11,234,567 B2', 'B2')],
  ['U.S. Pat. No. 9,332,086', {}, publication('US', '9332086', 'US 9,332,086')],
  ['US 7654321 B1', {}, publication('US', '7654321', 'US 7,654,321 B1', 'B1')],
  ['US 11234567', { kind: 'publication' }, publication('US', '11234567', 'US 11,234,567')],
  ['USD912345S', {}, publication('US', 'D912345', 'US D912,345 S', 'S')],
  ['US RE49,123 E', {}, publication('US', 'RE49123', 'US RE49,123 E', 'E')],
  ['US PP32,123 P2', {}, publication('US', 'PP32123', 'US PP32,123 P2', 'P2')],
  // EP: applications (check digit kept apart, computed when left out), publications
  ['EP 15150367.9', {}, application('EP', '15150367', 'EP 15150367.9', '9')],
  ['EP15150367', {}, application('EP', '15150367', 'EP 15150367.9', '9')],
  ['ep 13 192 291.6', {}, application('EP', '13192291', 'EP 13192291.6', '6')],
  ['17184134.9', { officeCode: 'EP' }, application('EP', '17184134', 'EP 17184134.9', '9')],
  ['EP 01306315.1', {}, application('EP', '01306315', 'EP 01306315.1', '1')],
  ['EP16000312', {}, application('EP', '16000312', 'EP 16000312.5', '5')],
  ['EP 3 456 789 A1', {}, publication('EP', '3456789', 'EP 3456789 A1', 'A1')],
  ['EP2871816B1', {}, publication('EP', '2871816', 'EP 2871816 B1', 'B1')],
  ['EP 0 123 456 B1', {}, publication('EP', '0123456', 'EP 0123456 B1', 'B1')],
  // JP: applications (also in Japanese, era years converted), publications
  ['JP 2010-001234', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['JP2010-1234', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['jp 2010001234', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['ＪＰ２０１０－００１２３４', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['特願2010-001234', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['特願平22-001234', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['平成22年特許願第001234号', {}, application('JP', '2010001234', 'JP 2010-001234')],
  ['特願平10-123456', {}, application('JP', '1998123456', 'JP 1998-123456')],
  ['JP 2021-123456 A', {}, publication('JP', '2021123456', 'JP 2021-123456 A', 'A')],
  ['JP2021123456A', {}, publication('JP', '2021123456', 'JP 2021-123456 A', 'A')],
  ['特開2021-123456', {}, publication('JP', '2021123456', 'JP 2021-123456 A', 'A')],
  ['特開2021-123456号公報', {}, publication('JP', '2021123456', 'JP 2021-123456 A', 'A')],
  ['特表2021-512345', {}, publication('JP', '2021512345', 'JP 2021-512345 A', 'A')],
  ['JPH10123456A', {}, publication('JP', '1998123456', 'JP 1998-123456 A', 'A')],
  ['2021-123456', { officeCode: 'JP', kind: 'publication' }, publication('JP', '2021123456', 'JP 2021-123456 A', 'A')],
  ['JP 6789012 B2', {}, publication('JP', '6789012', 'JP 6789012 B2', 'B2')],
  ['特許第6789012号', {}, publication('JP', '6789012', 'JP 6789012')],
  // KR: applications (right code kept), publications
  ['KR 10-2020-0012345', {}, application('KR', '1020200012345', 'KR 10-2020-0012345')],
  ['1020200012345', { officeCode: 'KR' }, application('KR', '1020200012345', 'KR 10-2020-0012345')],
  ['KR1020200012345', {}, application('KR', '1020200012345', 'KR 10-2020-0012345')],
  ['10-2020-0012345', { officeCode: 'kr' }, application('KR', '1020200012345', 'KR 10-2020-0012345')],
  ['KR 20-2020-0001234', {}, application('KR', '2020200001234', 'KR 20-2020-0001234')],
  ['KR 10-2021-0012345 A', {}, publication('KR', '1020210012345', 'KR 10-2021-0012345 A', 'A')],
  ['KR20210012345A', {}, publication('KR', '1020210012345', 'KR 10-2021-0012345 A', 'A')],
  ['KR 10-2345678 B1', {}, publication('KR', '102345678', 'KR 10-2345678 B1', 'B1')],
  ['KR102345678B1', {}, publication('KR', '102345678', 'KR 10-2345678 B1', 'B1')],
  // WO/PCT: international applications (by receiving office), WO publications
  ['PCT/CN2023/123456', {}, application('WO', 'CN2023123456', 'PCT/CN2023/123456')],
  ['pct/us2022/012345', {}, application('WO', 'US2022012345', 'PCT/US2022/012345')],
  ['PCT / EP2013 / 054321', {}, application('WO', 'EP2013054321', 'PCT/EP2013/054321')],
  ['PCT/IB2020/051234', {}, application('WO', 'IB2020051234', 'PCT/IB2020/051234')],
  ['CN2023123456', { officeCode: 'WO' }, application('WO', 'CN2023123456', 'PCT/CN2023/123456')],
  ['PCT/GB99/01234', {}, application('WO', 'GB1999001234', 'PCT/GB1999/001234')],
  ['PCT/JP03/12345', {}, application('WO', 'JP2003012345', 'PCT/JP2003/012345')],
  ['WO 2023/123456 A1', {}, publication('WO', '2023123456', 'WO 2023/123456 A1', 'A1')],
  ['WO2023123456A1', {}, publication('WO', '2023123456', 'WO 2023/123456 A1', 'A1')],
  ['WO/2023/123456', {}, publication('WO', '2023123456', 'WO 2023/123456')],
  ['WO 99/12345 A1', {}, publication('WO', '1999012345', 'WO 1999/012345 A1', 'A1')],
  ['WO9912345A1', {}, publication('WO', '1999012345', 'WO 1999/012345 A1', 'A1')],
  // AU
  ['AU 2020123456', {}, application('AU', '2020123456', 'AU 2020123456')],
  ['AU2020/123456', {}, application('AU', '2020123456', 'AU 2020123456')],
  ['AU 2020123456 A1', {}, publication('AU', '2020123456', 'AU 2020123456 A1', 'A1')],
  ['AU 2019201234 B2', {}, publication('AU', '2019201234', 'AU 2019201234 B2', 'B2')],
  ['AU 712345 B2', {}, publication('AU', '712345', 'AU 712345 B2', 'B2')],
  // CA
  ['CA 3,123,456', {}, application('CA', '3123456', 'CA 3123456')],
  ['CA 3123456', {}, application('CA', '3123456', 'CA 3123456')],
  ['CA 3 123 456 A1', {}, publication('CA', '3123456', 'CA 3123456 A1', 'A1')],
  ['CA 2345678 C', {}, publication('CA', '2345678', 'CA 2345678 C', 'C')],
  // GB
  ['GB 2012345.6', {}, application('GB', '2012345', 'GB 2012345.6', '6')],
  ['GB2012345.6', {}, application('GB', '2012345', 'GB 2012345.6', '6')],
  ['GB 2012345', {}, application('GB', '2012345', 'GB 2012345')],
  ['GB 1234567', {}, application('GB', '1234567', 'GB 1234567')],
  ['GB 2 590 123 A', {}, publication('GB', '2590123', 'GB 2 590 123 A', 'A')],
  ['GB2590123A', {}, publication('GB', '2590123', 'GB 2 590 123 A', 'A')],
  ['GB 2590123 B', {}, publication('GB', '2590123', 'GB 2 590 123 B', 'B')],
];

describe('normalizeNumber: accepted spellings', () => {
  it('covers every office with both applications and publications', () => {
    expect(SPELLINGS.length).toBeGreaterThanOrEqual(60);
    for (const office of ['CN', 'US', 'EP', 'JP', 'KR', 'WO', 'AU', 'CA', 'GB']) {
      for (const type of ['application', 'publication']) {
        expect(SPELLINGS.some(([, , value]) => value.officeCode === office && value.type === type), `${office} ${type}`).toBe(true);
      }
    }
  });

  it.each(SPELLINGS)('%j %j', (raw, options, expected) => {
    expect(normalizeNumber(raw, options)).toStrictEqual({ ...expected, raw });
  });

  it.each(SPELLINGS)('normalises the display form of %j to the same value', (raw, options) => {
    const value = normalizeNumber(raw, options);
    expect(normalizeNumber(value.display)).toStrictEqual({ ...value, raw: value.display });
  });

  it('accepts every example it gives in its error messages', () => {
    for (const rules of Object.values(OFFICE_RULES)) {
      for (const form of [...rules.forms, ...(rules.otherForms ?? [])]) {
        expect(normalizeNumber(form.example, { kind: form.type }).type, form.example).toBe(form.type);
      }
    }
  });

  it('returns the result instead of throwing when asked to', () => {
    expect(tryNormalizeNumber('PCT/CN2023/123456')).toStrictEqual({ ok: true, value: { ...application('WO', 'CN2023123456', 'PCT/CN2023/123456'), raw: 'PCT/CN2023/123456' } });
    const refused = tryNormalizeNumber('CN 2023100012');
    expect(refused.ok).toBe(false);
    expect(refused.ok ? undefined : refused.error).toMatchObject({ status: 422, errorCode: 'UNRECOGNISED_NUMBER' });
  });
});

describe('check digits', () => {
  it('computes the CNIPA digit of real numbers, old and new', () => {
    expect(cnipaCheckDigit('201710601862')).toBe('3');
    expect(cnipaCheckDigit('97101765')).toBe('4');
    expect(cnipaCheckDigit('202380012348')).toBe('X');
  });

  it('computes the EPO digit of real numbers', () => {
    for (const [number, check] of [
      ['15150367', '9'],
      ['13192291', '6'],
      ['17184134', '9'],
      ['09305284', '3'],
      ['06009468', '7'],
      ['09175290', '7'],
      ['01306315', '1'],
    ] as const) {
      expect(epoCheckDigit(number), number).toBe(check);
    }
  });
});

/** [input, options, errorCode, a form the detail must name] */
const REFUSALS: [raw: string, options: NormalizeOptions, errorCode: string, named: string][] = [
  ['', {}, 'UNRECOGNISED_NUMBER', 'CN 202310001234.7'],
  ['   ', { officeCode: 'EP' }, 'UNRECOGNISED_NUMBER', 'EP YYNNNNNN.C'],
  ['hello world', {}, 'UNRECOGNISED_NUMBER', 'PCT/CN2023/123456'],
  ['CN 2023100012', {}, 'UNRECOGNISED_NUMBER', 'CN YYYYTNNNNNNN.C'],
  ['CN 202340001234', {}, 'UNRECOGNISED_NUMBER', 'CN YYYYTNNNNNNN.C'],
  ['ZZ 1234567', {}, 'UNKNOWN_OFFICE_CODE', 'US 17/123,456'],
  ['PCT/ZZ2023/123456', {}, 'UNKNOWN_OFFICE_CODE', 'PCT/CCYYYY/NNNNNN'],
  ['17/123,456', { officeCode: 'XX' }, 'UNKNOWN_OFFICE_CODE', 'US 17/123,456'],
  ['DE 10 2020 123 456.7', {}, 'UNSUPPORTED_OFFICE', 'EP 15150367.9'],
  ['17/123,456', {}, 'UNRECOGNISED_NUMBER', 'US 17/123,456'],
  ['US 17/12E,456', {}, 'UNRECOGNISED_NUMBER', 'US SS/NNN,NNN'],
  ['US 17/1234,567', {}, 'UNRECOGNISED_NUMBER', 'US SS/NNN,NNN'],
  ['US 17/123,456', { kind: 'publication' }, 'UNRECOGNISED_NUMBER', 'US YYYY/NNNNNNN K'],
  ['US 2021/0123456 A1', { kind: 'application' }, 'UNRECOGNISED_NUMBER', 'US SS/NNN,NNN'],
  ['U.S. Pat. No. 17/123,456', {}, 'UNRECOGNISED_NUMBER', 'US N,NNN,NNN K'],
  ['EP 15150367.9 A1', {}, 'UNRECOGNISED_NUMBER', 'EP NNNNNNN K'],
  ['EP 3456789 Z1', {}, 'UNKNOWN_KIND_CODE', 'EP NNNNNNN K'],
  ['EP 3456789 A1', { officeCode: 'US' }, 'OFFICE_MISMATCH', 'US SS/NNN,NNN'],
  ['JP 2010-0012345', {}, 'UNRECOGNISED_NUMBER', 'JP YYYY-NNNNNN'],
  ['JP H45-001234', {}, 'UNRECOGNISED_NUMBER', 'JP YYYY-NNNNNN'],
  ['特願2010-0012345', {}, 'UNRECOGNISED_NUMBER', '特願YYYY-NNNNNN'],
  ['KR 10-2020-001234', {}, 'UNRECOGNISED_NUMBER', 'KR 10-YYYY-NNNNNNN'],
  ['KR 30-2020-0012345', {}, 'UNRECOGNISED_NUMBER', 'KR 10-YYYY-NNNNNNN'],
  ['WO 2005/12345', {}, 'UNRECOGNISED_NUMBER', 'WO YYYY/NNNNNN K'],
  ['PCT/GB05/01234', {}, 'UNRECOGNISED_NUMBER', 'PCT/CCYYYY/NNNNNN'],
  ['AU 20201234567', {}, 'UNRECOGNISED_NUMBER', 'AU YYYYNNNNNN'],
  ['CA 31234567', {}, 'UNRECOGNISED_NUMBER', 'CA N,NNN,NNN'],
  ['GB 2012345.67', {}, 'UNRECOGNISED_NUMBER', 'GB YYNNNNN.C'],
  [`CN ${'1'.repeat(62)}`, {}, 'UNRECOGNISED_NUMBER', 'longer than 64 characters'],
];

describe('normalizeNumber: check digits that disagree with the office algorithm', () => {
  // DESIGN §5's own examples carry such digits: they are accepted as typed and flagged, never refused.
  it.each([
    ['CN 202310001234.5', application('CN', '202310001234.5', 'CN 202310001234.5', '5', false)],
    ['CN202310001234.5', application('CN', '202310001234.5', 'CN 202310001234.5', '5', false)],
    ['EP 16000312.7', application('EP', '16000312', 'EP 16000312.7', '7', false)],
    ['EP16000312', application('EP', '16000312', 'EP 16000312.5', '5', true)],
  ])('keeps %s with checkDigitValid set', (raw, expected) => {
    expect(normal(normalizeNumber(raw))).toEqual(expected);
  });

  it('gives EP the same identity whatever check digit is typed', () => {
    expect(normalizeNumber('EP 16000312.7').number).toBe(normalizeNumber('EP16000312').number);
  });
});

describe('normalizeNumber: refusals', () => {
  it.each(REFUSALS)('refuses %j %j with %s naming %s', (raw, options, errorCode, named) => {
    let caught: unknown;
    try {
      normalizeNumber(raw, options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const error = caught as AppError;
    expect(error).toMatchObject({ status: 422, errorCode });
    expect(error.detail).toContain(named);
    expect(error.extensions.expected).toEqual(expect.arrayContaining([expect.any(String)]));
  });

  it('names the office forms in `expected`', () => {
    expect(() => normalizeNumber('CN 2023100012')).toThrow(
      expect.objectContaining({
        extensions: {
          expected: [
            'CN YYYYTNNNNNNN.C (e.g. CN 202310001234.7)',
            'CN YYTNNNNN.C (e.g. CN 97101765.4)',
            'CN NNNNNNNNN K (e.g. CN 112345678 A)',
            'CN NNNNNNN K (e.g. CN 1234567 A)',
          ],
        },
      }),
    );
  });
});

// ---------------------------------------------------------------- properties

const digits = (length: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: length, maxLength: length }).map((list) => list.join(''));
const year = (min: number, max: number) => fc.integer({ min, max }).map(String);

/** Well-formed numbers of every office, in one of their usual spellings. */
const wellFormed = fc.oneof(
  fc.tuple(year(2003, 2030), fc.constantFrom('1', '2', '3', '8', '9'), digits(7), fc.boolean()).map(([y, t, serial, withCheck]) => {
    const number = `${y}${t}${serial}`;
    return `CN ${number}${withCheck ? `.${cnipaCheckDigit(number)}` : ''}`;
  }),
  fc.tuple(digits(3), digits(3), digits(3), fc.constantFrom('A', 'B', 'U', 'S')).map(([a, b, c, kind]) => `CN ${a}${b}${c} ${kind}`),
  fc.tuple(fc.integer({ min: 10, max: 19 }), digits(3), digits(3)).map(([series, a, b]) => `US ${series}/${a},${b}`),
  fc.tuple(year(2001, 2030), digits(7), fc.constantFrom('A1', 'A2', 'A9')).map(([y, serial, kind]) => `US${y}${serial}${kind}`),
  fc.tuple(fc.integer({ min: 1_000_000, max: 12_999_999 }), fc.constantFrom('B1', 'B2')).map(([number, kind]) => `US ${number.toLocaleString('en-US')} ${kind}`),
  fc.tuple(digits(8), fc.boolean()).map(([number, withCheck]) => `EP${number}${withCheck ? `.${epoCheckDigit(number)}` : ''}`),
  fc.tuple(fc.integer({ min: 1, max: 4 }), digits(6), fc.constantFrom('A1', 'A2', 'B1')).map(([first, rest, kind]) => `EP ${first}${rest} ${kind}`),
  fc.tuple(year(1990, 2030), digits(6)).map(([y, serial]) => `JP ${y}-${serial}`),
  fc.tuple(fc.integer({ min: 1, max: 31 }), digits(6)).map(([heisei, serial]) => `特願平${heisei}-${serial}`),
  fc.tuple(year(2000, 2030), digits(6)).map(([y, serial]) => `JP${y}${serial}A`),
  fc.tuple(fc.constantFrom('10', '20'), year(1990, 2030), digits(7)).map(([right, y, serial]) => `KR ${right}-${y}-${serial}`),
  fc.tuple(year(2000, 2030), digits(7)).map(([y, serial]) => `KR${y}${serial}A`),
  fc.tuple(fc.constantFrom('CN', 'US', 'EP', 'JP', 'KR', 'GB', 'IB', 'AU', 'CA'), year(2004, 2030), digits(6)).map(([ro, y, serial]) => `PCT/${ro}${y}/${serial}`),
  fc.tuple(fc.constantFrom('GB', 'US', 'EP'), fc.constantFrom('79', '85', '99', '00', '03'), digits(5)).map(([ro, yy, serial]) => `PCT/${ro}${yy}/${serial}`),
  fc.tuple(year(1990, 2030), digits(6), fc.constantFrom('A1', 'A2', 'A3')).map(([y, serial, kind]) => `WO ${y}/${serial} ${kind}`),
  fc.tuple(year(2000, 2030), digits(6), fc.option(fc.constantFrom('A1', 'B2'), { nil: undefined })).map(([y, serial, kind]) => `AU ${y}${serial}${kind ? ` ${kind}` : ''}`),
  fc.tuple(fc.integer({ min: 1, max: 3 }), digits(6), fc.option(fc.constantFrom('A1', 'C'), { nil: undefined })).map(([first, rest, kind]) => `CA ${first}${rest}${kind ? ` ${kind}` : ''}`),
  fc.tuple(digits(7), fc.option(digits(1), { nil: undefined })).map(([number, check]) => `GB ${number}${check ? `.${check}` : ''}`),
  fc.tuple(fc.integer({ min: 1, max: 2 }), digits(3), digits(3), fc.constantFrom('A', 'B')).map(([a, b, c, kind]) => `GB ${a} ${b} ${c} ${kind}`),
);

/** Changes that must not change the value: case, full width, surrounding whitespace. */
const respelled = fc
  .tuple(wellFormed, fc.boolean(), fc.boolean(), fc.constantFrom('', ' ', '\t', '\u3000'))
  .map(([raw, lower, wide, pad]) => {
    let text = lower ? raw.toLowerCase() : raw;
    if (wide) text = text.replace(/[!-~]/g, (char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0)).replaceAll(' ', '\u3000');
    return { raw, text: `${pad}${text}${pad}` };
  });

function expectRefusal(error: unknown): void {
  expect(error).toBeInstanceOf(AppError);
  const problem = error as AppError;
  expect(problem.status).toBe(422);
  expect(problem.detail.length).toBeGreaterThan(0);
  expect(Array.isArray(problem.extensions.expected)).toBe(true);
}

describe('normalizeNumber: properties', () => {
  it('is idempotent: the display form normalises to the same value, whatever the spelling', () => {
    fc.assert(
      fc.property(respelled, ({ raw, text }) => {
        const value = normalizeNumber(text);
        expect(normal(normalizeNumber(raw))).toStrictEqual(normal(value));
        expect(normal(normalizeNumber(value.display))).toStrictEqual(normal(value));
        expect(normal(normalizeNumber(normal(value).display, { officeCode: value.officeCode, kind: value.type }))).toStrictEqual(normal(value));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the value when the type is forced: the display form under the same kind', () => {
    fc.assert(
      fc.property(fc.constantFrom('AU', 'CA'), fc.integer({ min: 2_000_000, max: 3_999_999 }), (office, number) => {
        const raw = office === 'AU' ? `20${String(number).padStart(8, '0')}` : String(number);
        const value = normalizeNumber(raw, { officeCode: office, kind: 'publication' });
        expect(value).toMatchObject({ type: 'publication', officeCode: office });
        expect(normal(normalizeNumber(value.display, { kind: value.type }))).toStrictEqual(normal(value));
      }),
    );
  });

  const options = fc.record(
    {
      officeCode: fc.constantFrom('US', 'cn', 'WO', 'PCT', 'JP', 'KR', 'EP', 'DE', 'XX', '', '１２'),
      kind: fc.constantFrom('application' as const, 'publication' as const, 'any' as const),
    },
    { requiredKeys: [] },
  );
  const numberLike = fc.stringMatching(/^(?:[A-Za-z]{2,3}[ /]?)?[0-9 /.,-]{0,20}(?: ?[A-Z][0-9]?)?$/);

  it('throws nothing but a 422 AppError, for any string, and what it accepts is stable', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 30 }), numberLike, wellFormed), options, (raw, opts) => {
        let value: NormalizedNumber;
        try {
          value = normalizeNumber(raw, opts);
        } catch (error) {
          expectRefusal(error);
          return;
        }
        expect(value.raw).toBe(raw);
        expect(value.officeCode).toMatch(/^[A-Z]{2}$/);
        expect(normal(normalizeNumber(value.display, { kind: value.type }))).toStrictEqual(normal(value));
      }),
      { numRuns: 2000 },
    );
  });
});
