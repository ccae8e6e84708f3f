import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';
import { OfficeEntity } from './office.entity.js';

/** A group of an office's examiners and API clients; deposits, subscriptions and inboxes are isolated per branch. */
export const BranchEntity = defineEntity({
  name: 'Branch',
  tableName: 'branch',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code'),
    name: p.string().length(200),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  uniques: [{ properties: ['officeCode', 'name'], name: 'branch_office_code_name_unique' }],
});

export type Branch = InferEntity<typeof BranchEntity>;
