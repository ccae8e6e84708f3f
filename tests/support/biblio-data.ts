/**
 * Generated bibliographic data with realistic priority patterns, as NDJSON lines of `POST /v1/applications/bulk`
 * (tests and bench/families-ingest.bench.ts). Deterministic for a seed.
 *
 * Patterns, per family: a lone national filing claiming nothing (most); the Paris route (a first filing, then 1–4
 * other offices claiming it, sometimes with a second priority); the PCT route (a first filing, the international
 * application claiming it, national/regional phase entries in 2–4 offices naming it); US continuations and
 * divisionals. Some offices give their own (DOCDB-like) family ids; a few disagree with the hub on purpose.
 */

/** The offices the generator writes numbers for (all with number rules in the hub). */
export const DATA_OFFICES = ['US', 'EP', 'JP', 'CN', 'KR', 'WO'] as const;
export type DataOffice = (typeof DATA_OFFICES)[number];

/** A small fast PRNG (mulberry32). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/** The i-th application number of an office, as the office writes it (unique per office for i < 1,000,000 × 10). */
export function applicationNumber(office: DataOffice, i: number): string {
  const high = Math.floor(i / 1_000_000);
  const low = i % 1_000_000;
  switch (office) {
    case 'US':
      return `${16 + high}/${pad(low, 6).slice(0, 3)},${pad(low, 6).slice(3)}`;
    case 'EP':
      return `EP${15 + high}${pad(low, 6)}`;
    case 'JP':
      return `JP${2015 + high}-${pad(low, 6)}`;
    case 'CN':
      return `CN${2015 + high}1${pad(low, 7)}`;
    case 'KR':
      return `KR10${2015 + high}${pad(low, 7)}`;
    case 'WO':
      return `PCT/${(['CN', 'US', 'JP', 'KR', 'EP'] as const)[high % 5]}${2015 + Math.floor(high / 5)}/${pad(low, 6)}`;
  }
}

/** The k-th publication number of an office, with its kind code. */
function publicationNumber(office: DataOffice, k: number): string {
  const year = 2016 + Math.floor(k / 1_000_000);
  const low = k % 1_000_000;
  switch (office) {
    case 'US':
      return `US${year}${pad(low, 7)}A1`;
    case 'EP':
      return `EP${pad(1_000_000 + k, 7)}A1`;
    case 'JP':
      return `JP${year}${pad(low, 6)}A`;
    case 'CN':
      return `CN1${pad(k, 8)}A`;
    case 'KR':
      return `KR10${year}${pad(low, 7)}A`;
    case 'WO':
      return `WO${year}${pad(low, 6)}A1`;
  }
}

export interface GeneratedLine {
  officeCode: DataOffice;
  applicationNumber: string;
  filingDate: string;
  titles: { languageCode: string; text: string }[];
  applicants: { name: string; countryCode?: string }[];
  ipc: string[];
  priorityClaims: { officeCode: string; number: string; date: string }[];
  publications: { number: string; date: string; officeCode?: string }[];
  published: boolean;
  familyId?: string;
  pctApplication?: string;
}

export interface GenerateOptions {
  /** Applications to generate (at least; a family is never cut). */
  applications: number;
  seed?: number;
  /** Offices whose lines are kept (default all): others are still numbered, so priorities keep pointing at them. */
  offices?: readonly DataOffice[];
  /** First index of each office's numbers (to generate disjoint data sets). */
  offset?: number;
}

const IPC = ['H04L 9/32', 'G06F 16/22', 'A61K 31/4164', 'H01M 10/052', 'B60L 53/10', 'C07D 401/04'];
const TITLE_WORDS = ['widget', 'sprocket', 'battery', 'protocol', 'compound', 'sensor', 'valve', 'antenna', 'catalyst', 'display'];

const day = (base: number, plus: number): string => new Date(Date.UTC(2015, 0, 1) + (base + plus) * 86_400_000).toISOString().slice(0, 10);

/**
 * Generates families until `applications` lines of the kept offices are produced; yields lines in a shuffled-ish
 * order (families interleave, follow-ups sometimes before their first filing), as offices send them.
 */
export function* generateApplications(options: GenerateOptions): Generator<GeneratedLine> {
  const next = random(options.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const kept = new Set<DataOffice>(options.offices ?? DATA_OFFICES);
  const counters = new Map<DataOffice, number>(DATA_OFFICES.map((office) => [office, options.offset ?? 0]));
  const publications = new Map<DataOffice, number>(DATA_OFFICES.map((office) => [office, options.offset ?? 0]));
  const national = DATA_OFFICES.filter((office) => office !== 'WO');
  let produced = 0;
  let family = 0;
  /** Lines held back to arrive a little later (out-of-order arrival). */
  const delayed: GeneratedLine[] = [];

  const allocate = (office: DataOffice): string => {
    const i = counters.get(office)!;
    counters.set(office, i + 1);
    return applicationNumber(office, i);
  };
  const line = (office: DataOffice, number: string, filed: string, extra: Partial<GeneratedLine> = {}): GeneratedLine => {
    const published = next() < 0.9;
    const k = publications.get(office)!;
    if (published) publications.set(office, k + 1);
    return {
      officeCode: office,
      applicationNumber: number,
      filingDate: filed,
      titles: [{ languageCode: 'en', text: `${pick(TITLE_WORDS)} with ${pick(TITLE_WORDS)} ${family}` }],
      applicants: [{ name: `Applicant ${family % 997}` }],
      ipc: [pick(IPC)],
      priorityClaims: [],
      publications: published ? [{ number: publicationNumber(office, k), date: day(Date.parse(filed) / 86_400_000 - 16_436, 540) }] : [],
      published,
      ...extra,
    };
  };

  while (produced < options.applications) {
    family += 1;
    const base = Math.floor(next() * 2500);
    const first = pick(national);
    const firstNumber = allocate(first);
    const lines: GeneratedLine[] = [];
    const docdb = `F${options.seed ?? 1}-${family}`;
    const roll = next();
    if (roll < 0.5) {
      lines.push(line(first, firstNumber, day(base, 0)));
    } else if (roll < 0.8) {
      // Paris route: 1–4 other offices claim the first filing within a year, sometimes with a second priority.
      lines.push(line(first, firstNumber, day(base, 0), { familyId: docdb }));
      const second = next() < 0.2 ? { officeCode: first, number: allocate(first), date: day(base, 30) } : undefined;
      const others = national.filter((office) => office !== first).sort(() => next() - 0.5).slice(0, 1 + Math.floor(next() * 4));
      for (const office of others) {
        const priorityClaims = [{ officeCode: first, number: firstNumber, date: day(base, 0) }, ...(second ? [second] : [])];
        // A few providers disagree with the hub: a family id that is another family's.
        const familyId = next() < 0.01 ? `F${options.seed ?? 1}-${Math.max(1, family - 1)}` : docdb;
        lines.push(line(office, allocate(office), day(base, 360), { priorityClaims, familyId }));
      }
    } else if (roll < 0.95) {
      // PCT route: the international application claims the first filing; 2–4 national/regional phase entries.
      lines.push(line(first, firstNumber, day(base, 0)));
      const wo = allocate('WO');
      lines.push(line('WO', wo, day(base, 365), { priorityClaims: [{ officeCode: first, number: firstNumber, date: day(base, 0) }] }));
      const entries = national.filter((office) => office !== first).sort(() => next() - 0.5).slice(0, 2 + Math.floor(next() * 3));
      for (const office of entries) {
        // Most entries repeat the priority, some list nothing but the PCT link, some list the WO application too.
        const style = next();
        const priorityClaims =
          style < 0.6
            ? [{ officeCode: first, number: firstNumber, date: day(base, 0) }]
            : style < 0.9
              ? []
              : [
                  { officeCode: first, number: firstNumber, date: day(base, 0) },
                  { officeCode: 'WO', number: wo, date: day(base, 365) },
                ];
        lines.push(line(office, allocate(office), day(base, 900), { priorityClaims, pctApplication: wo }));
      }
    } else {
      // US continuation chain: parent claims the first filing; a divisional claims the same; a continuation also claims the parent.
      lines.push(line(first, firstNumber, day(base, 0)));
      const parent = allocate('US');
      lines.push(line('US', parent, day(base, 300), { priorityClaims: [{ officeCode: first, number: firstNumber, date: day(base, 0) }] }));
      lines.push(line('US', allocate('US'), day(base, 700), { priorityClaims: [{ officeCode: first, number: firstNumber, date: day(base, 0) }] }));
      lines.push(
        line('US', allocate('US'), day(base, 800), {
          priorityClaims: [
            { officeCode: first, number: firstNumber, date: day(base, 0) },
            { officeCode: 'US', number: parent, date: day(base, 300) },
          ],
        }),
      );
    }
    for (const generated of lines) {
      if (!kept.has(generated.officeCode)) continue;
      produced += 1;
      // One line in eight arrives after the next family's lines.
      if (next() < 0.125) delayed.push(generated);
      else yield generated;
    }
    while (delayed.length > 0 && next() < 0.5) yield delayed.shift()!;
  }
  yield* delayed;
}

/** NDJSON of generated lines. */
export function toNdjson(lines: Iterable<GeneratedLine>): string {
  let text = '';
  for (const line of lines) text += `${JSON.stringify(line)}\n`;
  return text;
}
