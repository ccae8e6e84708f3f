import { afterAll, beforeAll, expect, it } from 'vitest';
import { preparedQuery } from '../../src/platform/database/prepared-query.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

describeEachProfile('hot reads as prepared statements', (profile) => {
  let hub: TestHub;
  // One pooled connection, so that every statement below meets the ones prepared before it.
  beforeAll(async () => {
    hub = await startTestHub(profile, { DATABASE_POOL_MAX: '1' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('prepares a statement again when a migration changed what it reads, instead of failing', async () => {
    // First in this file: later tests fill the connection up to its cap, and then new statements run unnamed.
    const em = hub.app.db.fork();
    await em.execute('create table prepared_probe (value int)');
    try {
      await em.execute('insert into prepared_probe (value) values (1)');
      const read = () => preparedQuery<{ value: unknown }>(em, 'select value from prepared_probe where value::text = ?', ['1']);
      expect(await read()).toEqual([{ value: 1 }]);
      await em.execute('alter table prepared_probe alter column value type text');
      expect(await read()).toEqual([{ value: '1' }]);
    } finally {
      await em.execute('drop table prepared_probe');
    }
  });

  it('answers every statement shape, keeping at most 64 prepared on a connection (search has thousands of shapes)', async () => {
    const em = hub.app.db.fork();
    for (let shape = 0; shape < 80; shape += 1) {
      const rows = await preparedQuery<{ value: number }>(em, `select ?::int + ${shape} as value`, [1]);
      expect(rows).toEqual([{ value: 1 + shape }]);
    }
    // Again, now that the cap is reached: prepared shapes and unnamed ones answer alike.
    expect(await preparedQuery<{ value: number }>(em, 'select ?::int + 3 as value', [4])).toEqual([{ value: 7 }]);
    expect(await preparedQuery<{ value: number }>(em, 'select ?::int + 79 as value', [4])).toEqual([{ value: 83 }]);
    if (profile === 'services') {
      const [prepared] = await em.execute<{ count: number }[]>(`select count(*)::int as "count" from pg_prepared_statements where name like 'dx\\_%'`);
      expect(prepared?.count).toBe(64);
    }
  });

  it('refuses SQL whose placeholders and parameters disagree, before sending it', async () => {
    const em = hub.app.db.fork();
    if (profile === 'services') await expect(preparedQuery(em, 'select ?::int as value', [])).rejects.toThrow(/1 placeholders for 0 parameters/);
    else await expect(preparedQuery(em, 'select ?::int as value', [])).rejects.toThrow();
  });
});
