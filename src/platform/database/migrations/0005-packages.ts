import { Migration } from '@mikro-orm/migrations';

export class Migration0005Packages extends Migration {
  override up(): void {
    this.addSql("create table \"package\" (\"id\" uuid not null, \"office_code\" varchar(2) not null, \"branch_id\" uuid not null, \"submitter_kind\" text check (\"submitter_kind\" in ('examiner', 'client')) not null, \"submitter_id\" uuid not null, \"status\" text check (\"status\" in ('queued', 'processing', 'completed', 'failed', 'refused')) not null default 'queued', \"storage_key\" varchar(300) not null, \"byte_size\" bigint not null, \"sha256\" varchar(64) not null, \"idempotency_key\" varchar(200) null, \"progress_done\" int not null default 0, \"progress_total\" int not null default 0, \"results\" jsonb not null, \"error\" jsonb null, \"attempts\" int not null default 0, \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, \"started_at\" timestamptz null, \"finished_at\" timestamptz null, constraint \"package_pkey\" primary key (\"id\"));");
    this.addSql("create index \"package_office_code_branch_id_id_index\" on \"package\" (\"office_code\", \"branch_id\", \"id\");");
    this.addSql("create index \"package_office_code_id_index\" on \"package\" (\"office_code\", \"id\");");
    this.addSql("create index \"package_status_index\" on \"package\" (\"status\");");
    this.addSql("alter table \"package\" add constraint \"package_office_code_idempotency_key_unique\" unique (\"office_code\", \"idempotency_key\");");
    this.addSql("alter table \"package\" add constraint \"package_office_code_foreign\" foreign key (\"office_code\") references \"office\" (\"code\") on update cascade;");
  }
}
