import Type, { type Static } from 'typebox';
import { Page } from '../platform/schemas.js';
import { OfficeParams } from './office.schemas.js';

export const Uuid = Type.String({ format: 'uuid' });
export const DateTime = Type.String({ format: 'date-time' });
const BranchName = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

/** A branch of an office. */
export const BranchView = Type.Object(
  {
    id: Uuid,
    officeCode: Type.String(),
    name: Type.String(),
    createdAt: DateTime,
    updatedAt: DateTime,
  },
  { $id: 'Branch' },
);
export type BranchView = Static<typeof BranchView>;
export const BranchPage = Page(BranchView, 'BranchPage');

export const BranchParams = Type.Object({ ...OfficeParams.properties, branchId: Uuid });
export const BranchBody = Type.Object({ name: BranchName }, { additionalProperties: false });
export type BranchInput = Static<typeof BranchBody>;
