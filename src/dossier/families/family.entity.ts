import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const FAMILY_KINDS = ['simple', 'extended'] as const;
export const FAMILY_STATUSES = ['live', 'absorbed', 'dissolved'] as const;
export type FamilyStatus = (typeof FAMILY_STATUSES)[number];

/**
 * A family id the hub has allocated (docs/families.md, "Running against PostgreSQL"): a simple family (members
 * sharing one signature of first filings, as DOCDB) or an extended one (members linked through any priority, as
 * INPADOC). Rows are never deleted: an extended family merged into an older one is `absorbed` and redirects to the
 * survivor; a simple family left without members is `dissolved` (redirecting where all its members went, when they
 * went to one family). Redirects are kept one hop long. Written only by the family store (family-store.ts), inside
 * the transaction of the bibliographic write that changed the family.
 */
export const FamilyEntity = defineEntity({
  name: 'Family',
  tableName: 'family',
  properties: (p) => ({
    id: p.uuid().primary(),
    kind: p.enum([...FAMILY_KINDS]),
    /** Allocation order ("the oldest id survives a merge"): strictly increasing, assigned under the family lock. */
    seq: p.bigint('number').unique(),
    /** Simple families: the sorted first filings (`office:number` keys) their members share. */
    signature: p.array().nullable(),
    status: p.enum([...FAMILY_STATUSES]).default('live'),
    /** Absorbed (or dissolved into one family): the family that holds the members now. */
    redirectTo: p.uuid().nullable().index(),
    /** Applications in the family (all of them, whoever may see them). */
    memberCount: p.integer().default(0),
    /** Whether providers' own family ids disagree with this family (docs/families.md, "Provider family ids and conflicts"). */
    hasConflict: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    endedAt: p.datetime().nullable(),
  }),
});
export type Family = InferEntity<typeof FamilyEntity>;
