import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrations } from '../../src/platform/database/migrations/index.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

describeEachProfile('database schema', (profile) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub(profile);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('has applied every committed migration, in order', async () => {
    const rows = await hub.app.db.fork().getConnection().execute<{ name: string }[]>('select name from mikro_orm_migrations order by id');
    expect(rows.map((row) => row.name)).toEqual(migrations.map((migration) => migration.name));
  });

  it('matches the entities exactly: a change to an entity needs a migration (npm run migration:create)', async () => {
    const diff = await hub.app.db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true });
    expect(diff.trim()).toBe('');
  });

  it('applies nothing on a second start', async () => {
    expect(await hub.app.db.migrate()).toEqual([]);
  });
});
