import Type, { type Static } from 'typebox';

const MONTH = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'A calendar month, YYYY-MM (UTC)', examples: ['2025-03'] });

export const StatisticsQuery = Type.Object({
  from: Type.Optional({ ...MONTH, description: 'First month (default: eleven months before `to`)' }),
  to: Type.Optional({ ...MONTH, description: 'Last month, included (default: the current month)' }),
});
export type StatisticsQuery = Static<typeof StatisticsQuery>;

const Counts = {
  month: MONTH,
  documentCode: Type.String(),
  views: Type.Integer({ minimum: 0, description: 'Metadata views (GET /v1/documents/{id})' }),
  downloads: Type.Integer({ minimum: 0, description: 'Downloads, whole or partial (GET /v1/documents/{id}/content answered 200 or 206)' }),
};

export const OfficeStatistics = Type.Object(
  {
    officeCode: Type.String(),
    from: MONTH,
    to: MONTH,
    accessedByOthers: Type.Array(
      Type.Object({
        ...Counts,
        readerOffice: Type.Union([Type.String(), Type.Null()], { description: 'The reading office; null for readers without an office (anonymous callers, the operator)' }),
      }),
      { description: 'How often others read this office’s documents, by month, reader office and document code' },
    ),
    accessedFromOthers: Type.Array(Type.Object({ ...Counts, providerOffice: Type.String() }), {
      description: 'How often this office’s users and clients read other offices’ documents, by month, providing office and document code',
    }),
  },
  { $id: 'OfficeStatistics', description: 'Usage of the exchange by and of one office; an office’s reads of its own documents are not counted' },
);
export type OfficeStatistics = Static<typeof OfficeStatistics>;

export const OfficeCoverage = Type.Object(
  {
    officeCode: Type.String(),
    applications: Type.Object(
      {
        total: Type.Integer({ minimum: 0 }),
        byYear: Type.Array(Type.Object({ year: Type.Integer(), count: Type.Integer({ minimum: 0 }) }), { description: 'By filing year, oldest first' }),
      },
      { description: 'Shared applications: published, of an active office' },
    ),
    documents: Type.Object(
      {
        total: Type.Integer({ minimum: 0 }),
        byCode: Type.Array(Type.Object({ documentCode: Type.String(), year: Type.Integer(), count: Type.Integer({ minimum: 0 }) }), {
          description: 'By document code, then document year, oldest first',
        }),
      },
      {
        description:
          'Documents shared with every active accessing office: active, of a shared application, with visibility public or offices (restricted documents are shared with the offices they list only, and not counted)',
      },
    ),
  },
  { $id: 'OfficeCoverage', description: 'What an office shares through the hub, in counts only' },
);
export type OfficeCoverage = Static<typeof OfficeCoverage>;
