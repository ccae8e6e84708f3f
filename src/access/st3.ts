/**
 * WIPO Standard ST.3 two-letter codes: states (ISO 3166-1 alpha-2), intergovernmental
 * organisations, and the historical codes still met in patent documents.
 */
const STATES =
  'AD AE AF AG AI AL AM AO AR AT AU AW AZ BA BB BD BE BF BG BH BI BJ BM BN BO BQ BR BS BT BW BY BZ ' +
  'CA CD CF CG CH CI CK CL CM CN CO CR CU CV CW CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FO FR ' +
  'GA GB GD GE GG GH GI GL GM GN GQ GR GS GT GW GY HK HN HR HT HU ID IE IL IM IN IQ IR IS IT JE JM JO JP ' +
  'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MG MK ML MM MN MO MP MR MS MT MU MV MW MX MY MZ ' +
  'NA NE NG NI NL NO NP NR NZ OM PA PE PG PH PK PL PT PW PY QA RO RS RU RW SA SB SC SD SE SG SH SI SK SL SM SN SO SR SS ST SV SX SY SZ ' +
  'TC TD TG TH TJ TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VN VU WS YE ZA ZM ZW';
const ORGANISATIONS = {
  AP: 'African Regional Intellectual Property Organization (ARIPO)',
  BX: 'Benelux Office for Intellectual Property (BOIP)',
  EA: 'Eurasian Patent Organization (EAPO)',
  EM: 'European Union Intellectual Property Office (EUIPO)',
  EP: 'European Patent Office (EPO)',
  GC: 'Patent Office of the Cooperation Council for the Arab States of the Gulf (GCC)',
  IB: 'International Bureau of WIPO',
  OA: 'African Intellectual Property Organization (OAPI)',
  QZ: 'Community Plant Variety Office (CPVO)',
  WO: 'World Intellectual Property Organization (WIPO)',
  XN: 'Nordic Patent Institute (NPI)',
  XU: 'International Union for the Protection of New Varieties of Plants (UPOV)',
  XV: 'Visegrad Patent Institute (VPI)',
} as const;
/** Codes of states that no longer exist but appear on cited documents. */
const HISTORICAL = 'CS DD SU YU';

const ST3_CODES: ReadonlySet<string> = new Set([...STATES.split(' '), ...Object.keys(ORGANISATIONS), ...HISTORICAL.split(' ')]);

export function isSt3Code(code: string): boolean {
  return ST3_CODES.has(code);
}

export const ST3_PATTERN = '^[A-Z]{2}$';
