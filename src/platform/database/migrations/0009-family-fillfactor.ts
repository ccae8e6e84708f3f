import { Migration } from '@mikro-orm/migrations';

/**
 * Family rows are updated in place on nearly every bulk-ingest batch (member counts, conflict flags), under the
 * family lock. Room left on each page lets PostgreSQL update them without new index entries (HOT updates): none of
 * those columns is indexed. Applies to pages written from now on.
 */
export class Migration0009FamilyFillfactor extends Migration {
  override up(): void {
    this.addSql('alter table "family" set (fillfactor = 70);');
  }
}
