import { Migration } from '@mikro-orm/migrations';

export class Migration0006Families extends Migration {
  override up(): void {
    this.addSql("create index \"family_redirect_to_index\" on \"family\" (\"redirect_to\");");
  }
}
