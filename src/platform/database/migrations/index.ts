import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Initial } from './0001-initial.js';
import { Migration0002Access } from './0002-access.js';
import { Migration0003Dossier } from './0003-dossier.js';
import { Migration0004Browse } from './0004-browse.js';
import { Migration0005Packages } from './0005-packages.js';
import { Migration0006Families } from './0006-families.js';
import { Migration0007IdempotencyExpiry } from './0007-idempotency-expiry.js';
import { Migration0008PrincipalChangeNotifications } from './0008-principal-change-notifications.js';
import { Migration0009FamilyFillfactor } from './0009-family-fillfactor.js';
import { Migration0010ApplicationFamily } from './0010-application-family.js';

/** Committed migrations, in order. `npm run migration:create` appends to this list. */
export const migrations: MigrationObject[] = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-access', class: Migration0002Access },
  { name: '0003-dossier', class: Migration0003Dossier },
  { name: '0004-browse', class: Migration0004Browse },
  { name: '0005-packages', class: Migration0005Packages },
  { name: '0006-families', class: Migration0006Families },
  { name: '0007-idempotency-expiry', class: Migration0007IdempotencyExpiry },
  { name: '0008-principal-change-notifications', class: Migration0008PrincipalChangeNotifications },
  { name: '0009-family-fillfactor', class: Migration0009FamilyFillfactor },
  { name: '0010-application-family', class: Migration0010ApplicationFamily },
];
