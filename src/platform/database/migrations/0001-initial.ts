import { Migration } from '@mikro-orm/migrations';

export class Migration0001Initial extends Migration {
  override up(): void {
    this.addSql("create table \"office\" (\"code\" varchar(2) not null, \"name\" varchar(200) not null, \"provider_mode\" text check (\"provider_mode\" in ('repository', 'webService')) null, \"web_service_url\" varchar(2000) null, \"accessing\" boolean not null default false, \"public_access\" boolean not null default false, \"status\" text check (\"status\" in ('active', 'suspended')) not null default 'active', \"created_at\" timestamptz not null, \"updated_at\" timestamptz not null, constraint \"office_pkey\" primary key (\"code\"));");
  }
}
