import { Migration } from '@mikro-orm/migrations';

export class Migration0004Browse extends Migration {
  override up(): void {
    this.addSql("create table \"access_event\" (\"id\" uuid not null, \"at\" timestamptz not null, \"document_id\" uuid not null, \"provider_office\" varchar(2) not null, \"document_code\" varchar(64) not null, \"reader_office\" varchar(2) null, \"reader_branch\" uuid null, \"principal_kind\" varchar(16) not null, \"principal_id\" varchar(64) null, \"action\" text check (\"action\" in ('view', 'download')) not null, constraint \"access_event_pkey\" primary key (\"id\"));");
    this.addSql("create index \"access_event_provider_office_at_index\" on \"access_event\" (\"provider_office\", \"at\");");
    this.addSql("create index \"access_event_reader_office_at_index\" on \"access_event\" (\"reader_office\", \"at\");");
    this.addSql("create table \"family\" (\"id\" uuid not null, \"kind\" text check (\"kind\" in ('simple', 'extended')) not null, \"seq\" bigint not null, \"signature\" text[] null, \"status\" text check (\"status\" in ('live', 'absorbed', 'dissolved')) not null default 'live', \"redirect_to\" uuid null, \"member_count\" int not null default 0, \"has_conflict\" boolean not null default false, \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, \"ended_at\" timestamptz null, constraint \"family_pkey\" primary key (\"id\"));");
    this.addSql("alter table \"family\" add constraint \"family_seq_unique\" unique (\"seq\");");
    this.addSql("alter table \"application\" add column \"pct_application_number\" varchar(64) null, add column \"simple_family_id\" uuid null, add column \"extended_family_id\" uuid null, add column \"family_seq\" bigint null, add column \"family_priorities\" text[] null, add column \"family_pct_key\" varchar(70) null, add column \"family_provider_id\" varchar(100) null, add column \"search_vector\" tsvector generated always as (to_tsvector('simple'::regconfig, ((jsonb_path_query_array(titles, '$[*].text'::jsonpath))::text || ' '::text) || (jsonb_path_query_array(applicants, '$[*].name'::jsonpath))::text)) stored not null;");
    this.addSql("create index \"application_simple_family_id_index\" on \"application\" (\"simple_family_id\");");
    this.addSql("create index \"application_extended_family_id_index\" on \"application\" (\"extended_family_id\");");
    this.addSql("alter table \"application\" add constraint \"application_family_seq_unique\" unique (\"family_seq\");");
    this.addSql("create index \"application_family_pct_key_index\" on \"application\" (\"family_pct_key\");");
    this.addSql("create index \"application_search_vector_index\" on \"public\".\"application\" using gin(\"search_vector\");");
    this.addSql("create index \"application_filing_date_id_index\" on \"application\" (\"filing_date\", \"id\");");
    this.addSql("create index \"application_updated_at_id_index\" on \"application\" (\"updated_at\", \"id\");");
    this.addSql("create index \"application_application_number_id_index\" on \"application\" (\"application_number\", \"id\");");
    this.addSql("create index \"application_office_code_provider_family_id_index\" on \"application\" (\"office_code\", \"provider_family_id\");");
  }
}
