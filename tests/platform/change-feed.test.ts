import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChangeFeed, type ChangeFeed } from '../../src/platform/database/change-feed.js';
import { postgresAdminUrl, withAdminClient } from '../support/postgres.js';
import { profileAvailable } from '../support/hub.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe.skipIf(!profileAvailable('services'))('PostgreSQL change feed', () => {
  let proxy: TcpProxy;
  let feed: ChangeFeed;
  const changes: string[] = [];
  const liveChanges: boolean[] = [];
  const channel = `dx_feed_test_${process.pid}`;

  beforeAll(async () => {
    const target = new URL(postgresAdminUrl());
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const url = new URL(target.href);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    feed = openChangeFeed({ url: url.href, channel, heartbeatMs: 500, retryMs: 50, maxRetryMs: 200 }, { onChange: (payload) => changes.push(payload), onLiveChange: (live) => liveChanges.push(live) });
    await feed.waitLive(10_000);
  });
  afterAll(async () => {
    await feed?.close();
    await proxy?.close();
  });

  it('delivers what other sessions notify, and keeps its own heartbeats to itself', async () => {
    await withAdminClient((client) => client.query('select pg_notify($1, $2)', [channel, 'account']));
    await expect.poll(() => changes, { timeout: 2_000, interval: 10 }).toContain('account');
    // Heartbeats came back meanwhile (2 per second), none of them passed on as a change.
    await expect.poll(() => feed.current(750), { timeout: 2_000, interval: 10 }).toBe(true);
    expect(changes.every((payload) => !payload.startsWith('dx-heartbeat:'))).toBe(true);
  });

  it('stops vouching for the changes within a heartbeat window when its connection hangs, then reconnects', async () => {
    await expect.poll(() => feed.current(750), { timeout: 2_000, interval: 10 }).toBe(true);
    const drops = liveChanges.filter((live) => !live).length;
    proxy.stall();
    // The socket is open and says nothing: only the missing heartbeats tell.
    // Found out by the late heartbeat, before the connection is given up (three heartbeats, 1.5 s): both read at once.
    const state = () => (feed.current(750) ? 'current' : feed.live ? 'late' : 'dropped');
    await expect.poll(state, { timeout: 3_000, interval: 5 }).not.toBe('current');
    expect(state()).toBe('late');
    // Three heartbeats unanswered end the connection; a new one (through the proxy, which relays new connections) listens again.
    await expect.poll(() => liveChanges.filter((live) => !live).length, { timeout: 5_000, interval: 10 }).toBe(drops + 1);
    await feed.waitLive(5_000);
    await withAdminClient((client) => client.query('select pg_notify($1, $2)', [channel, 'office']));
    await expect.poll(() => changes, { timeout: 2_000, interval: 10 }).toContain('office');
    await expect.poll(() => feed.current(750), { timeout: 2_000, interval: 10 }).toBe(true);
  });

  it('reconnects after the database ends its connection, and rejects waiters once closed', async () => {
    const drops = liveChanges.filter((live) => !live).length;
    await proxy.cut();
    await expect.poll(() => feed.live, { timeout: 2_000, interval: 5 }).toBe(false);
    expect(feed.current(10_000)).toBe(false);
    await proxy.restore();
    await feed.waitLive(5_000);
    expect(liveChanges.filter((live) => !live).length).toBe(drops + 1);

    const other = openChangeFeed({ url: 'postgres://postgres@127.0.0.1:1/none', channel, retryMs: 10_000 }, { onChange: () => undefined, onLiveChange: () => undefined });
    const waiting = expect(other.waitLive(60_000)).rejects.toThrow(/closed/);
    await other.close();
    await waiting;
  });
});
