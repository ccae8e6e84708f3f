import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { FamilyIndex } from '../../src/dossier/families/family-index.js';
import { familyApplicationOf, loadStoredFamilies, recomputeFamilies, recordsOf, storedRecord } from '../../src/dossier/families/family-store.js';

/** POST /v1/applications/bulk with an NDJSON body. */
export function ingest(app: FastifyInstance, token: string | undefined, ndjson: string | Buffer, contentType = 'application/x-ndjson'): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/applications/bulk',
    headers: { 'content-type': contentType, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    payload: ndjson,
  });
}

export interface IngestSummary {
  lines: number;
  accepted: number;
  created: number;
  updated: number;
  rejected: number;
  errors: { line: number; errorCode: string; detail: string; errors?: { field: string; message: string }[] }[];
  errorsOmitted: number;
  families: Record<string, number>;
}

export async function ingestOk(app: FastifyInstance, token: string, ndjson: string | Buffer): Promise<IngestSummary> {
  const response = await ingest(app, token, ndjson);
  expect(response.statusCode, response.body.slice(0, 2000)).toBe(200);
  return response.json<IngestSummary>();
}

/**
 * The families the database holds are exactly what a recomputation from scratch of the stored bibliographic
 * records gives (same partitions), the stored form hydrates without contradiction, and the `family` table agrees:
 * live ids are those in use with the right member counts and conflict flags, ended ids redirect to live ones.
 */
export async function expectFamiliesConsistent(em: EntityManager): Promise<{ applications: number; simple: number; extended: number }> {
  const stored = await loadStoredFamilies(em);
  const records = await recordsOf(em, null);
  // Every application is indexed, with the record the index applied equal to its bibliographic record.
  expect(stored.applications.length, 'applications without families').toBe(records.length);
  const byKey = new Map(stored.applications.map((app) => [app.key, app]));
  for (const record of records) {
    const app = familyApplicationOf(record);
    const kept = byKey.get(app.key);
    expect(kept, app.key).toBeDefined();
    expect(storedRecord(kept!), app.key).toEqual(storedRecord(app));
  }
  const live = stored.families.filter((family) => family.status === 'live');
  const hydrated = FamilyIndex.hydrate(stored.applications, live, { newId: () => 'unused' });
  expect(hydrated.validate()).toEqual([]);
  const { index: recomputed } = await recomputeFamilies(em);
  expect(hydrated.snapshot()).toEqual(recomputed.snapshot());

  const used = new Set(stored.applications.flatMap((app) => [app.simpleFamilyId, app.extendedFamilyId]));
  expect(new Set(live.map((family) => family.id))).toEqual(used);
  const liveIds = new Set(live.map((family) => family.id));
  for (const family of live) {
    const members = family.kind === 'simple' ? hydrated.membersOfSimple(family.id) : hydrated.membersOfExtended(family.id);
    expect(family.memberCount, `member count of ${family.kind} ${family.id}`).toBe(members?.length);
    expect(family.hasConflict, `conflict flag of ${family.kind} ${family.id}: ${JSON.stringify(hydrated.conflictsOf(family.id))}`).toBe(hydrated.conflictsOf(family.id).length > 0);
    if (family.kind === 'simple') expect(family.signature, family.id).toEqual(hydrated.signatureOf(family.id));
  }
  for (const family of stored.families.filter((candidate) => candidate.status !== 'live')) {
    if (family.status === 'absorbed') expect(family.redirectTo, `absorbed ${family.id}`).not.toBeNull();
    if (family.redirectTo !== null) expect(liveIds.has(family.redirectTo), `redirect of ${family.id} is one hop to a live family`).toBe(true);
  }
  const snapshot = hydrated.snapshot();
  return { applications: stored.applications.length, simple: snapshot.simple.length, extended: snapshot.extended.length };
}
