import { afterAll, beforeAll, expect, it } from 'vitest';
import { normalizeNumber } from '../../src/dossier/numbers/normalize.js';
import { call, clientToken, createSecretClient, expectProblem, OPERATOR_ENV, seedOffice } from '../support/access.js';
import { biblio, putBiblio, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { expectFamiliesConsistent } from '../support/families.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Put {
  simpleFamilyId: string;
  extendedFamilyId: string;
  pctApplication: string | null;
}
interface Member {
  officeCode: string;
  applicationNumber: string;
  simpleFamilyId: string;
  extendedFamilyId: string;
  pctApplication: string | null;
}
interface Family {
  id: string;
  kind: 'simple' | 'extended';
  firstFilings: { officeCode: string; applicationNumber: string }[] | null;
  extendedFamilyId: string | null;
  simpleFamilyIds: string[] | null;
  memberCount: number;
  members: Member[];
  hasConflict: boolean;
  conflicts: Record<string, unknown>[];
}

/** The normal form of a CN application number (with its computed check digit). */
const cn = (raw: string): string => normalizeNumber(raw, { officeCode: 'CN', kind: 'application' }).number;

/** A priority claim: [office, number as written, date]. */
type Claim = [string, string, string];

/**
 * Families through the HTTP API: PUT the bibliographic data, read the families back. Hand-built cases of
 * docs/families.md: chains, several priorities, continuations and divisionals, PCT national phases (in both
 * arrival orders), a priority added later (merge: the older id survives, the absorbed id redirects), and
 * conflicting provider family ids (shown, never merged).
 */
describeEachProfile('families: hand-built cases through the API', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  /** API client tokens of the providing offices. */
  const writers: Record<string, string> = {};
  /** A reader of an accessing office (sees every published application). */
  let reader: string;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    writers.US = world.us.client.token;
    writers.JP = world.jp.client.token;
    for (const code of ['CN', 'EP', 'WO']) {
      const office = await seedOffice(hub.app, world.operator, { code, branches: 1 });
      const client = await createSecretClient(hub.app, office.admin.token, code, office.branches[0]?.id ?? '');
      writers[code] = await clientToken(hub.app, client.id, client.secret);
    }
    reader = world.kr.examiners[0]?.token ?? '';
  });
  afterAll(async () => {
    await hub?.close();
  });

  async function put(office: string, number: string, claims: Claim[] = [], extra: Record<string, unknown> = {}): Promise<Put> {
    const body = biblio({ publications: [], priorityClaims: claims.map(([officeCode, claimed, date]) => ({ officeCode, number: claimed, date })), ...extra });
    const response = await putBiblio(hub.app, writers[office] ?? '', office, number, body);
    expect(response.statusCode, response.body).toBeLessThan(300);
    return response.json<Put>();
  }
  async function family(id: string, token: string | undefined = reader): Promise<Family> {
    const response = await call(hub.app, 'GET', `/v1/families/${id}`, { token });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Family>();
  }
  const members = (f: Family) => f.members.map((member) => `${member.officeCode}:${member.applicationNumber}`);

  it('a chain of priorities: B claims A, C claims B — A and B share a simple family, C has its own, all one extended family', async () => {
    const a = await put('US', '16/100,001');
    const b = await put('JP', 'JP 2019-100001', [['US', '16/100,001', '2020-01-01']]);
    const c = await put('EP', 'EP 19100001', [['JP', 'JP 2019-100001', '2020-06-01']]);
    expect(b.simpleFamilyId).toBe(a.simpleFamilyId);
    expect(c.simpleFamilyId).not.toBe(a.simpleFamilyId);
    expect(new Set([a.extendedFamilyId, b.extendedFamilyId, c.extendedFamilyId]).size).toBe(1);
    const simple = await family(a.simpleFamilyId);
    expect(simple).toMatchObject({ kind: 'simple', extendedFamilyId: a.extendedFamilyId, firstFilings: [{ officeCode: 'US', applicationNumber: '16100001' }], memberCount: 2 });
    expect(members(simple)).toEqual(['JP:2019100001', 'US:16100001']);
    const extended = await family(a.extendedFamilyId);
    expect(extended).toMatchObject({ kind: 'extended', firstFilings: null, memberCount: 3, simpleFamilyIds: [a.simpleFamilyId, c.simpleFamilyId].sort() });
    expect(members(extended)).toEqual(['EP:19100001', 'JP:2019100001', 'US:16100001']);
    // The chain arriving the other way round ends in the same shape.
    const c2 = await put('EP', 'EP 19100002', [['JP', 'JP 2019-100002', '2020-06-01']]);
    const b2 = await put('JP', 'JP 2019-100002', [['US', '16/100,002', '2020-01-01']]);
    const a2 = await put('US', '16/100,002');
    expect((await family(a2.simpleFamilyId)).members.map((m) => m.officeCode)).toEqual(['JP', 'US']);
    expect(b2.simpleFamilyId).not.toBe(c2.simpleFamilyId);
    expect(members(await family(a2.extendedFamilyId))).toEqual(['EP:19100002', 'JP:2019100002', 'US:16100002']);
  });

  it('several priorities: the same set in any order is one simple family; sharing one of them is the same extended family', async () => {
    const d = await put('EP', 'EP 19200001', [
      ['GB', 'GB 1900001', '2019-01-01'],
      ['DE', 'DE 10 2019 000 001.1', '2019-02-01'],
    ]);
    const f = await put('JP', 'JP 2019-200001', [
      ['DE', 'DE 10 2019 000 001.1', '2019-02-01'],
      ['GB', 'GB1900001', '2019-01-01'],
    ]);
    const e = await put('US', '16/200,001', [['GB', 'GB 1900001', '2019-01-01']]);
    expect(f.simpleFamilyId).toBe(d.simpleFamilyId);
    expect(e.simpleFamilyId).not.toBe(d.simpleFamilyId);
    expect(e.extendedFamilyId).toBe(d.extendedFamilyId);
    const simple = await family(d.simpleFamilyId);
    // DE has no number rules in the hub: its numbers are kept upper-cased without separators.
    expect(simple.firstFilings).toEqual([
      { officeCode: 'DE', applicationNumber: '1020190000011' },
      { officeCode: 'GB', applicationNumber: '1900001' },
    ]);
    expect(members(simple)).toEqual(['EP:19200001', 'JP:2019200001']);
  });

  it('continuations and divisionals: a divisional with the parent’s priorities joins its simple family; a continuation also claiming the parent has its own', async () => {
    const first = await put('JP', 'JP 2019-300001');
    const parent = await put('US', '16/300,001', [['JP', 'JP 2019-300001', '2019-03-01']]);
    const divisional = await put('US', '17/300,001', [['JP', 'JP 2019-300001', '2019-03-01']]);
    const continuation = await put('US', '17/300,002', [
      ['JP', 'JP 2019-300001', '2019-03-01'],
      ['US', '16/300,001', '2020-03-01'],
    ]);
    expect(parent.simpleFamilyId).toBe(first.simpleFamilyId);
    expect(divisional.simpleFamilyId).toBe(first.simpleFamilyId);
    expect(continuation.simpleFamilyId).not.toBe(first.simpleFamilyId);
    expect(new Set([first, parent, divisional, continuation].map((x) => x.extendedFamilyId)).size).toBe(1);
    expect(members(await family(continuation.simpleFamilyId))).toEqual(['US:17300002']);
    expect((await family(first.extendedFamilyId)).memberCount).toBe(4);
  });

  it('PCT national phases join their international application’s simple family; an entry with an extra priority has its own', async () => {
    const p = await put('CN', 'CN 202310001234', [], { filingDate: '2023-01-05' });
    const w = await put('WO', 'PCT/CN2023/123456', [['CN', 'CN 202310001234', '2023-01-05']], { filingDate: '2023-12-20' });
    const ep = await put('EP', 'EP 24000001', [['CN', 'CN 202310001234', '2023-01-05']], { pctApplication: 'PCT/CN2023/123456', filingDate: '2024-06-01' });
    const us = await put('US', '18/000,001', [], { pctApplication: 'PCT/CN2023/123456', filingDate: '2024-06-01' });
    // Listing the international application among the priorities changes nothing: it is the PCT link.
    const us2 = await put('US', '18/000,002', [
      ['CN', 'CN 202310001234', '2023-01-05'],
      ['WO', 'PCT/CN2023/123456', '2023-12-20'],
    ], { pctApplication: 'CN2023123456', filingDate: '2024-06-02' });
    const jp = await put('JP', 'JP 2024-500001', [
      ['CN', 'CN 202310001234', '2023-01-05'],
      ['JP', 'JP 2023-000009', '2023-02-01'],
    ], { pctApplication: 'PCT/CN2023/123456', filingDate: '2024-06-03' });
    expect(us.pctApplication).toBe('CN2023123456');
    for (const entry of [w, ep, us, us2]) expect(entry.simpleFamilyId).toBe(p.simpleFamilyId);
    expect(jp.simpleFamilyId).not.toBe(p.simpleFamilyId);
    for (const entry of [w, ep, us, us2, jp]) expect(entry.extendedFamilyId).toBe(p.extendedFamilyId);
    const simple = await family(p.simpleFamilyId);
    expect(members(simple)).toEqual([`CN:${cn('CN 202310001234')}`, 'EP:24000001', 'US:18000001', 'US:18000002', 'WO:CN2023123456']);
    expect(simple.members.find((member) => member.officeCode === 'EP')?.pctApplication).toBe('CN2023123456');
  });

  it('PCT entries arriving before their international application are grouped under it, and follow it when it arrives', async () => {
    const us = await put('US', '18/000,101', [], { pctApplication: 'PCT/US2023/000101', filingDate: '2024-06-01' });
    const ep = await put('EP', 'EP 24000101', [], { pctApplication: 'PCT/US2023/000101', filingDate: '2024-06-01' });
    expect(ep.simpleFamilyId).toBe(us.simpleFamilyId);
    expect((await family(us.simpleFamilyId)).firstFilings).toEqual([{ officeCode: 'WO', applicationNumber: 'US2023000101' }]);
    // The international application arrives, claiming a US first filing: the entries move to its simple family.
    const w = await put('WO', 'PCT/US2023/000101', [['US', '17/999,101', '2022-12-01']], { filingDate: '2023-11-30' });
    const moved = await family(w.simpleFamilyId);
    expect(moved.firstFilings).toEqual([{ officeCode: 'US', applicationNumber: '17999101' }]);
    expect(members(moved)).toEqual(['EP:24000101', 'US:18000101', 'WO:US2023000101']);
    // The entries' old simple family was left without members: its id now leads to where they all went.
    const old = await call(hub.app, 'GET', `/v1/families/${us.simpleFamilyId}`, { token: reader });
    expect(old.statusCode).toBe(308);
    expect(old.headers.location).toBe(`/v1/families/${w.simpleFamilyId}`);
    expect(w.extendedFamilyId).toBe(us.extendedFamilyId);
  });

  it('an application that later adds a priority merges two extended families: the older id survives and the absorbed one redirects', async () => {
    const a1 = await put('US', '16/400,001');
    const b1 = await put('JP', 'JP 2019-400001', [['US', '16/400,001', '2019-05-01']]);
    const a2 = await put('CN', 'CN 201910400001', [], { filingDate: '2019-07-01' });
    const b2 = await put('EP', 'EP 19400001', [['CN', 'CN 201910400001', '2019-07-01']], { filingDate: '2020-07-01' });
    expect(a1.extendedFamilyId).toBe(b1.extendedFamilyId);
    expect(a2.extendedFamilyId).toBe(b2.extendedFamilyId);
    expect(a1.extendedFamilyId).not.toBe(a2.extendedFamilyId);
    const older = a1.extendedFamilyId;
    const younger = a2.extendedFamilyId;

    const merged = await put('EP', 'EP 19400001', [
      ['CN', 'CN 201910400001', '2019-07-01'],
      ['US', '16/400,001', '2019-05-01'],
    ], { filingDate: '2020-07-01' });
    expect(merged.extendedFamilyId).toBe(older);
    expect(merged.simpleFamilyId).not.toBe(b2.simpleFamilyId);
    const family1 = await family(older);
    expect(members(family1)).toEqual([`CN:${cn('CN 201910400001')}`, 'EP:19400001', 'JP:2019400001', 'US:16400001']);

    // The absorbed id keeps working: a permanent redirect to the survivor, for the family and its sub-resources.
    for (const suffix of ['', '/timeline?limit=5', '/citations']) {
      const response = await call(hub.app, 'GET', `/v1/families/${younger}${suffix}`, { token: reader });
      expect(response.statusCode, suffix).toBe(308);
      expect(response.headers.location).toBe(`/v1/families/${older}${suffix}`);
    }
    // The simple family EP left still holds CN's first filing; the EP application's own (now empty) one redirects to its new one.
    expect(members(await family(a2.simpleFamilyId))).toEqual([`CN:${cn('CN 201910400001')}`]);

    // Dropping the priority again splits the family: the larger part keeps the id, the other gets a new one.
    const split = await put('EP', 'EP 19400001', [['CN', 'CN 201910400001', '2019-07-01']], { filingDate: '2020-07-01' });
    expect(split.extendedFamilyId).not.toBe(older);
    expect(members(await family(older))).toEqual(['JP:2019400001', 'US:16400001']);
  });

  it('conflicting provider family ids are shown on the family, never merged; correcting them clears the conflict', async () => {
    // One simple family, two US family ids.
    const x = await put('US', '16/500,001', [['GB', 'GB 1950001', '2019-01-01']], { familyId: 'USF-1' });
    const y = await put('US', '16/500,002', [['GB', 'GB 1950001', '2019-01-01']], { familyId: 'USF-2' });
    expect(y.simpleFamilyId).toBe(x.simpleFamilyId);
    const several = await family(x.simpleFamilyId);
    expect(several.hasConflict).toBe(true);
    expect(several.conflicts).toEqual([
      {
        rule: 'several-provider-ids',
        providerOffice: 'US',
        providerFamilyIds: [
          { providerFamilyId: 'USF-1', members: [{ officeCode: 'US', applicationNumber: '16500001' }] },
          { providerFamilyId: 'USF-2', members: [{ officeCode: 'US', applicationNumber: '16500002' }] },
        ],
      },
    ]);
    // One JP family id over two unrelated hub families: shown on both, and they stay two families.
    const c = await put('JP', 'JP 2019-500001', [], { familyId: 'JPF-9' });
    const d = await put('JP', 'JP 2019-500002', [], { familyId: 'JPF-9' });
    expect(c.extendedFamilyId).not.toBe(d.extendedFamilyId);
    for (const id of [c.extendedFamilyId, d.extendedFamilyId, c.simpleFamilyId]) {
      const shown = await family(id);
      expect(shown.hasConflict, id).toBe(true);
      expect(shown.conflicts).toEqual([
        expect.objectContaining({
          rule: 'provider-id-spread',
          providerOffice: 'JP',
          providerFamilyId: 'JPF-9',
          families: expect.arrayContaining([
            { familyId: expect.any(String), members: [{ officeCode: 'JP', applicationNumber: '2019500001' }] },
            { familyId: expect.any(String), members: [{ officeCode: 'JP', applicationNumber: '2019500002' }] },
          ]),
        }),
      ]);
    }
    await expectFamiliesConsistent(hub.app.db.fork());
    // The provider corrects one id: both families are clear again (the stored flags too).
    await put('JP', 'JP 2019-500002', [], { familyId: 'JPF-10' });
    expect((await family(c.extendedFamilyId)).hasConflict).toBe(false);
    expect((await family(d.extendedFamilyId)).hasConflict).toBe(false);
    await put('US', '16/500,002', [['GB', 'GB 1950001', '2019-01-01']], { familyId: 'USF-1' });
    expect((await family(x.simpleFamilyId)).conflicts).toEqual([]);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('GET /v1/applications/{officeCode}/{applicationNumber} carries both family ids', async () => {
    const a = await put('US', '16/600,001', [['CN', 'CN 201910600001', '2019-01-01']]);
    const response = await call(hub.app, 'GET', '/v1/applications/US/16600001', { token: reader });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ simpleFamilyId: a.simpleFamilyId, extendedFamilyId: a.extendedFamilyId });
  });

  it('answers 404 for ids that name no family, and for a family whose members the caller may not see', async () => {
    expectProblem(await call(hub.app, 'GET', '/v1/families/not-a-uuid', { token: reader }), 404, 'FAMILY_NOT_FOUND');
    expectProblem(await call(hub.app, 'GET', '/v1/families/0190a1b2-0000-7000-8000-000000000000', { token: reader }), 404, 'FAMILY_NOT_FOUND');
    const hidden = await put('US', '16/700,001', [], { published: false });
    expect((await family(hidden.extendedFamilyId, writers.US)).memberCount).toBe(1);
    for (const token of [reader, writers.JP, undefined]) {
      expectProblem(await call(hub.app, 'GET', `/v1/families/${hidden.extendedFamilyId}`, { token }), 404, 'FAMILY_NOT_FOUND');
      expectProblem(await call(hub.app, 'GET', `/v1/families/${hidden.extendedFamilyId}/timeline`, { token }), 404, 'FAMILY_NOT_FOUND');
    }
    await expectFamiliesConsistent(hub.app.db.fork());
  });
});
