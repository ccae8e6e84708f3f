import { Migration } from '@mikro-orm/migrations';

/** The facts a caller's principal is made of (src/access/authentication.plugin.ts, loadPrincipal), by table. */
const WATCHED: { table: string; columns: string[] }[] = [
  { table: 'account', columns: ['status', 'role', 'office_code', 'branch_id'] },
  { table: 'api_client', columns: ['status', 'office_code', 'branch_id'] },
  { table: 'office', columns: ['status'] },
];
/** Revocations that end a session (SESSION_ENDING_REASONS when this was written); `rotated` does not. */
const ENDING = `('reused', 'logout', 'accountChanged')`;

/**
 * A change to a fact a principal is made of notifies `dx_principal_change`, delivered to every listening node when
 * the transaction commits: their principal caches forget what they knew (src/access/principal-cache.ts). Row-level
 * and limited to those columns, so that sign-ins (failed-attempt counters), token rotations and the like do not
 * empty every node's cache. Inserts change no existing principal, except a refresh token written already revoked.
 */
export class Migration0008PrincipalChangeNotifications extends Migration {
  override up(): void {
    this.addSql(`create function "dx_notify_principal_change"() returns trigger language plpgsql as $$
begin
  perform pg_notify('dx_principal_change', tg_table_name);
  return null;
end
$$;`);
    for (const { table, columns } of WATCHED) {
      const changed = columns.map((column) => `old."${column}" is distinct from new."${column}"`).join(' or ');
      this.addSql(
        `create trigger "${table}_principal_update" after update of ${columns.map((column) => `"${column}"`).join(', ')} on "${table}" for each row when (${changed}) execute function "dx_notify_principal_change"();`,
      );
      this.addSql(`create trigger "${table}_principal_delete" after delete on "${table}" for each row execute function "dx_notify_principal_change"();`);
      this.addSql(`create trigger "${table}_principal_truncate" after truncate on "${table}" for each statement execute function "dx_notify_principal_change"();`);
    }
    this.addSql(
      `create trigger "refresh_token_principal_update" after update of "revoked_reason", "family_id" on "refresh_token" for each row
       when ((old."revoked_reason" is distinct from new."revoked_reason" or old."family_id" is distinct from new."family_id")
             and (old."revoked_reason" in ${ENDING} or new."revoked_reason" in ${ENDING}))
       execute function "dx_notify_principal_change"();`,
    );
    this.addSql(
      `create trigger "refresh_token_principal_insert" after insert on "refresh_token" for each row when (new."revoked_reason" in ${ENDING}) execute function "dx_notify_principal_change"();`,
    );
    this.addSql(
      `create trigger "refresh_token_principal_delete" after delete on "refresh_token" for each row when (old."revoked_reason" in ${ENDING}) execute function "dx_notify_principal_change"();`,
    );
    this.addSql(`create trigger "refresh_token_principal_truncate" after truncate on "refresh_token" for each statement execute function "dx_notify_principal_change"();`);
  }
}
