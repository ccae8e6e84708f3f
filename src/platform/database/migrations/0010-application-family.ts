import { Migration } from '@mikro-orm/migrations';

/**
 * The family columns of `application` move to a table of their own (ApplicationFamilyEntity): the bulk ingest then
 * writes its wide, full-text-indexed application rows before it takes the family lock. Indexed applications keep
 * their families; the others stay unindexed, as before.
 */
export class Migration0010ApplicationFamily extends Migration {
  override up(): void {
    this.addSql("create table \"application_family\" (\"application_id\" uuid not null, \"simple_family_id\" uuid not null, \"extended_family_id\" uuid not null, \"family_seq\" bigint not null, \"family_priorities\" text[] not null, \"family_pct_key\" varchar(70) null, \"family_provider_id\" varchar(100) null, constraint \"application_family_pkey\" primary key (\"application_id\"));");
    this.addSql("create index \"application_family_simple_family_id_index\" on \"application_family\" (\"simple_family_id\");");
    this.addSql("create index \"application_family_extended_family_id_index\" on \"application_family\" (\"extended_family_id\");");
    this.addSql("alter table \"application_family\" add constraint \"application_family_family_seq_unique\" unique (\"family_seq\");");
    this.addSql("create index \"application_family_family_pct_key_index\" on \"application_family\" (\"family_pct_key\");");
    this.addSql("alter table \"application_family\" add constraint \"application_family_application_id_foreign\" foreign key (\"application_id\") references \"application\" (\"id\") on update cascade on delete cascade;");
    this.addSql(
      'insert into "application_family" ("application_id", "simple_family_id", "extended_family_id", "family_seq", "family_priorities", "family_pct_key", "family_provider_id") ' +
        'select "id", "simple_family_id", "extended_family_id", "family_seq", coalesce("family_priorities", \'{}\'), "family_pct_key", "family_provider_id" from "application" where "extended_family_id" is not null;',
    );
    this.addSql("drop index \"application_extended_family_id_index\";");
    this.addSql("drop index \"application_family_pct_key_index\";");
    this.addSql("alter table \"application\" drop constraint \"application_family_seq_unique\";");
    this.addSql("drop index \"application_simple_family_id_index\";");
    this.addSql("alter table \"application\" drop column \"simple_family_id\", drop column \"extended_family_id\", drop column \"family_seq\", drop column \"family_priorities\", drop column \"family_pct_key\", drop column \"family_provider_id\";");
  }
}
