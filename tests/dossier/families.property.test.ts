import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.js';
import { loadStoredFamilies } from '../../src/dossier/families/family-store.js';
import { createBiblioService } from '../../src/providers/biblio.service.js';
import { createBulkIngestService } from '../../src/providers/bulk-ingest.service.js';
import type { BiblioInput } from '../../src/providers/biblio.schemas.js';
import { OPERATOR_ENV, seedOffice } from '../support/access.js';
import { seedDepositWorld } from '../support/deposits.js';
import { expectFamiliesConsistent } from '../support/families.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

/** An application of the model: office and its index within the run. */
interface Ref {
  office: 'US' | 'JP' | 'WO';
  i: number;
}
interface Upsert {
  app: Ref;
  /** Priorities: applications of the model, or first filings the hub never holds (GB). */
  priorities: (Ref | { office: 'GB'; i: number })[];
  pct: number | null;
  providerFamilyId: string | null;
}
/** Upserts one by one through the PUT's service, or together through the bulk ingest (in small batches). */
type Step = { kind: 'put'; upsert: Upsert } | { kind: 'ingest'; upserts: Upsert[]; batchSize: number };

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/**
 * The property: after any sequence of bibliographic upserts (PUTs and bulk ingest batches, in any order, adding,
 * changing and dropping priorities, PCT links and provider family ids), the families the database holds equal the
 * families recomputed from scratch from the stored records; every application is in exactly one simple family and
 * every simple family lies inside one extended family. Runs through the service layer (not HTTP) to stay fast.
 */
describeEachProfile('families: the incremental index in the database equals a recomputation (property)', (profile) => {
  let hub: TestHub;
  const principals: Record<string, Principal> = {};

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    const world = await seedDepositWorld(hub.app);
    const wo = await seedOffice(hub.app, world.operator, { code: 'WO', branches: 1 });
    for (const [code, office] of [
      ['US', world.us],
      ['JP', world.jp],
      ['WO', wo],
    ] as const) {
      principals[code] = { kind: 'client', clientId: '0190a1b2-0000-7000-8000-000000000001', officeCode: code, branchId: office.branches[0]?.id ?? '' };
    }
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('holds for random sequences of upserts', { timeout: 600_000 }, async () => {
    let run = 0;
    const ref = fc.record({ office: fc.constantFrom<'US' | 'JP' | 'WO'>('US', 'JP', 'WO'), i: fc.integer({ min: 0, max: 4 }) });
    const upsert = fc.record({
      app: ref,
      priorities: fc.array(fc.oneof(ref, fc.record({ office: fc.constant<'GB'>('GB'), i: fc.integer({ min: 0, max: 2 }) })), { maxLength: 3 }),
      pct: fc.option(fc.integer({ min: 0, max: 2 }), { freq: 3 }),
      providerFamilyId: fc.option(fc.constantFrom('F1', 'F2', 'F3'), { freq: 2 }),
    });
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant<'put'>('put'), upsert }),
      fc.record({ kind: fc.constant<'ingest'>('ingest'), upserts: fc.array(upsert, { minLength: 1, maxLength: 6 }), batchSize: fc.integer({ min: 1, max: 4 }) }),
    );

    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        run += 1;
        // Each run has numbers of its own, so runs do not interfere (the check covers everything stored).
        const number = (ref: Ref | { office: 'GB'; i: number }): string => {
          const serial = run * 10 + ref.i;
          switch (ref.office) {
            case 'US':
              return `16/${pad(Math.floor(serial / 1000), 3)},${pad(serial % 1000, 3)}`;
            case 'JP':
              return `JP 2018-${pad(serial, 6)}`;
            case 'WO':
              return `PCT/US2018/${pad(serial, 6)}`;
            case 'GB':
              return `GB ${1_800_000 + serial}`;
          }
        };
        const body = (step: Upsert): BiblioInput => {
          const seen = new Set<string>();
          const priorityClaims = step.priorities
            .filter((priority) => !seen.has(number(priority)) && seen.add(number(priority)))
            .map((priority) => ({ officeCode: priority.office, number: number(priority), date: '2021-01-01' }));
          return {
            filingDate: '2022-01-01',
            titles: [{ languageCode: 'en', text: `run ${run}` }],
            applicants: [],
            inventors: [],
            ipc: [],
            cpc: [],
            priorityClaims,
            publications: [],
            published: true,
            familyId: step.providerFamilyId,
            pctApplication: step.pct === null || step.app.office === 'WO' ? null : number({ office: 'WO', i: step.pct }),
          };
        };
        for (const step of steps) {
          if (step.kind === 'put') {
            await createBiblioService({ em: hub.app.db.fork() }).upsert(principals[step.upsert.app.office]!, step.upsert.app.office, number(step.upsert.app), body(step.upsert));
            continue;
          }
          // One stream per office (the bulk ingest takes the caller's office only), in the order of their first line.
          for (const office of [...new Set(step.upserts.map((upsert) => upsert.app.office))]) {
            const lines = step.upserts
              .filter((upsert) => upsert.app.office === office)
              .map((upsert) => `${JSON.stringify({ officeCode: office, applicationNumber: number(upsert.app), ...body(upsert) })}\n`);
            const summary = await createBulkIngestService({ em: hub.app.db.fork(), fork: () => hub.app.db.fork() }).ingest(principals[office]!, lines, { batchSize: step.batchSize });
            expect(summary.errors).toEqual([]);
            expect(summary.accepted).toBe(lines.length);
          }
        }
        const em = hub.app.db.fork();
        await expectFamiliesConsistent(em);
        const { applications } = await loadStoredFamilies(em);
        const extendedOfSimple = new Map<string, Set<string>>();
        for (const app of applications) {
          const set = extendedOfSimple.get(app.simpleFamilyId) ?? new Set<string>();
          set.add(app.extendedFamilyId);
          extendedOfSimple.set(app.simpleFamilyId, set);
        }
        for (const [simple, extended] of extendedOfSimple) expect(extended.size, `simple family ${simple} spans extended families`).toBe(1);
      }),
      { numRuns: profile === 'services' ? 25 : 20, seed: 20261121, endOnFailure: true },
    );
  });
});
