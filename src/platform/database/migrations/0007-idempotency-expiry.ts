import { Migration } from '@mikro-orm/migrations';

export class Migration0007IdempotencyExpiry extends Migration {
  override up(): void {
    this.addSql("create index \"idempotency_record_created_at_index\" on \"idempotency_record\" (\"created_at\");");
  }
}
