import { Migration } from '@mikro-orm/migrations';

export class Migration0002Access extends Migration {
  override up(): void {
    this.addSql("create table \"audit_event\" (\"id\" uuid not null, \"occurred_at\" timestamptz not null, \"type\" varchar(64) not null, \"outcome\" text check (\"outcome\" in ('success', 'failure')) not null, \"actor_kind\" varchar(16) not null, \"actor_id\" varchar(64) null, \"office_code\" varchar(2) null, \"target_type\" varchar(32) null, \"target_id\" varchar(64) null, \"ip\" varchar(64) null, \"request_id\" varchar(128) null, \"details\" jsonb not null, constraint \"audit_event_pkey\" primary key (\"id\"));");
    this.addSql("create index \"audit_event_office_code_id_index\" on \"audit_event\" (\"office_code\", \"id\");");
    this.addSql("create table \"client_assertion\" (\"client_id\" uuid not null, \"jti\" varchar(200) not null, \"expires_at\" timestamptz not null, constraint \"client_assertion_pkey\" primary key (\"client_id\", \"jti\"));");
    this.addSql("create index \"client_assertion_expires_at_index\" on \"client_assertion\" (\"expires_at\");");
    this.addSql("create table \"branch\" (\"id\" uuid not null, \"office_code\" varchar(2) not null, \"name\" varchar(200) not null, \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, constraint \"branch_pkey\" primary key (\"id\"));");
    this.addSql("alter table \"branch\" add constraint \"branch_office_code_name_unique\" unique (\"office_code\", \"name\");");
    this.addSql("create table \"api_client\" (\"id\" uuid not null, \"office_code\" varchar(2) not null, \"branch_id\" uuid null, \"name\" varchar(200) not null, \"auth_method\" text check (\"auth_method\" in ('client_secret_basic', 'private_key_jwt')) not null, \"secret_hash\" varchar(64) null, \"public_jwk\" jsonb null, \"status\" text check (\"status\" in ('active', 'revoked')) not null default 'active', \"credentials_rotated_at\" timestamptz null, \"revoked_at\" timestamptz null, \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, constraint \"api_client_pkey\" primary key (\"id\"));");
    this.addSql("create index \"api_client_office_code_index\" on \"api_client\" (\"office_code\");");
    this.addSql("create index \"api_client_branch_id_index\" on \"api_client\" (\"branch_id\");");
    this.addSql("create table \"account\" (\"id\" uuid not null, \"username\" varchar(100) not null, \"display_name\" varchar(200) null, \"role\" text check (\"role\" in ('operator', 'officeAdmin', 'examiner')) not null, \"office_code\" varchar(2) null, \"branch_id\" uuid null, \"status\" text check (\"status\" in ('active', 'disabled')) not null default 'active', \"password_hash\" text null, \"password_changed_at\" timestamptz null, \"failed_login_count\" int not null default 0, \"locked_until\" timestamptz null, \"last_login_at\" timestamptz null, \"pending_token_hash\" varchar(64) null, \"pending_token_expires_at\" timestamptz null, \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, constraint \"account_pkey\" primary key (\"id\"));");
    this.addSql("alter table \"account\" add constraint \"account_username_unique\" unique (\"username\");");
    this.addSql("create index \"account_office_code_index\" on \"account\" (\"office_code\");");
    this.addSql("create index \"account_branch_id_index\" on \"account\" (\"branch_id\");");
    this.addSql("alter table \"account\" add constraint \"account_pending_token_hash_unique\" unique (\"pending_token_hash\");");
    this.addSql("create table \"operator_setup_token\" (\"token_hash\" varchar(64) not null, \"expires_at\" timestamptz not null, \"created_at\" timestamptz not null, constraint \"operator_setup_token_pkey\" primary key (\"token_hash\"));");
    this.addSql("create table \"refresh_token\" (\"id\" uuid not null, \"account_id\" uuid not null, \"family_id\" uuid not null, \"token_hash\" varchar(64) not null, \"expires_at\" timestamptz not null, \"revoked_at\" timestamptz null, \"revoked_reason\" text check (\"revoked_reason\" in ('rotated', 'reused', 'logout', 'accountChanged')) null, \"created_at\" timestamptz not null, constraint \"refresh_token_pkey\" primary key (\"id\"));");
    this.addSql("create index \"refresh_token_account_id_index\" on \"refresh_token\" (\"account_id\");");
    this.addSql("create index \"refresh_token_family_id_index\" on \"refresh_token\" (\"family_id\");");
    this.addSql("alter table \"refresh_token\" add constraint \"refresh_token_token_hash_unique\" unique (\"token_hash\");");
    this.addSql("create table \"signing_key\" (\"kid\" varchar(64) not null, \"algorithm\" varchar(16) not null, \"public_jwk\" jsonb not null, \"private_jwk_ciphertext\" text not null, \"activates_at\" timestamptz not null, \"created_at\" timestamptz not null, constraint \"signing_key_pkey\" primary key (\"kid\"));");
    this.addSql("create index \"signing_key_activates_at_index\" on \"signing_key\" (\"activates_at\");");
    this.addSql("alter table \"branch\" add constraint \"branch_office_code_foreign\" foreign key (\"office_code\") references \"office\" (\"code\") on update cascade;");
    this.addSql("alter table \"api_client\" add constraint \"api_client_office_code_foreign\" foreign key (\"office_code\") references \"office\" (\"code\") on update cascade;");
    this.addSql("alter table \"api_client\" add constraint \"api_client_branch_id_foreign\" foreign key (\"branch_id\") references \"branch\" (\"id\") on update cascade on delete set null;");
    this.addSql("alter table \"account\" add constraint \"account_office_code_foreign\" foreign key (\"office_code\") references \"office\" (\"code\") on update cascade on delete no action;");
    this.addSql("alter table \"account\" add constraint \"account_branch_id_foreign\" foreign key (\"branch_id\") references \"branch\" (\"id\") on update cascade on delete no action;");
    this.addSql("alter table \"refresh_token\" add constraint \"refresh_token_account_id_foreign\" foreign key (\"account_id\") references \"account\" (\"id\") on update cascade on delete cascade;");
  }
}
