import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** What a change feed tells its owner. */
export interface ChangeFeedHandlers {
  /** A notification on the channel (its payload); the feed's own heartbeats are not passed on. */
  onChange(payload: string): void;
  /**
   * The feed's connection is listening (LISTEN confirmed) or stopped (connection lost, heartbeats unanswered,
   * closed). While it is not, notifications may be missed: whoever relies on them must forget what they cached.
   */
  onLiveChange(live: boolean): void;
  onError?(error: unknown): void;
}

export interface ChangeFeedOptions {
  url: string;
  /** A PostgreSQL identifier (letters, digits and `_`). */
  channel: string;
  /** Between two heartbeats (default 1,000 ms). */
  heartbeatMs?: number;
  /** First wait before reconnecting, doubled (with jitter) up to `maxRetryMs` (defaults 250 ms and 10,000 ms). */
  retryMs?: number;
  maxRetryMs?: number;
  now?: () => number;
}

export interface ChangeFeed {
  /** The connection is up and listening (it may still be stalled: see `current`). */
  readonly live: boolean;
  /**
   * Every change committed more than `withinMs` ago has been delivered: the feed's own heartbeat, a notification sent
   * through the same channel at most `withinMs` ago, has come back (PostgreSQL delivers a channel's notifications in
   * commit order, so whatever was committed before it came first).
   */
  current(withinMs: number): boolean;
  /** Resolves once the feed is live (or rejects after `timeoutMs`, or when closed): for start-up and tests. */
  waitLive(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const HEARTBEAT_PREFIX = 'dx-heartbeat:';

/**
 * LISTENs on a PostgreSQL channel over a connection of its own (outside the pool: a pooled connection is handed to
 * others), reconnecting with backoff. A connection can look alive while nothing reaches it (a half-open socket, a
 * stalled proxy), so the heartbeat is a notification the feed sends itself through the channel: `current(ms)` holds
 * only while one sent at most `ms` ago has come back, and three heartbeats unanswered end the connection.
 */
export function openChangeFeed(options: ChangeFeedOptions, handlers: ChangeFeedHandlers): ChangeFeed {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`openChangeFeed: ${options.channel} is not a channel name`);
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const firstRetryMs = options.retryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const self = `${HEARTBEAT_PREFIX}${randomBytes(6).toString('hex')}:`;
  let live = false;
  let closed = false;
  let client: pg.Client | undefined;
  let retryMs = firstRetryMs;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  /** Send times of this connection's heartbeats not yet back, by number. */
  let pending = new Map<number, number>();
  /** When the last heartbeat that came back was sent. */
  let confirmedAt = Number.NEGATIVE_INFINITY;
  let waiters = new Set<{ resolve(): void; reject(error: Error): void }>();
  /** Heartbeat numbers, never reused by a later connection (a late one from a dropped connection must not count). */
  let sequence = 0;

  const setLive = (value: boolean): void => {
    if (live === value) return;
    live = value;
    handlers.onLiveChange(value);
    if (value) {
      for (const waiter of waiters) waiter.resolve();
      waiters = new Set();
    }
  };

  const drop = (current: pg.Client, error?: unknown): Promise<void> => {
    if (client !== current) return Promise.resolve();
    client = undefined;
    clearInterval(heartbeatTimer);
    pending = new Map();
    confirmedAt = Number.NEGATIVE_INFINITY;
    setLive(false);
    if (error !== undefined) handlers.onError?.(error);
    current.removeAllListeners('notification');
    // Errors of a connection being dropped are of no further interest.
    current.on('error', () => undefined);
    // A graceful end waits for the server, which a hung link never delivers: give it a second, then cut the socket.
    const ended = new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        (current as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        resolve();
      }, 1_000);
      deadline.unref();
      current.end().then(
        () => {
          clearTimeout(deadline);
          resolve();
        },
        () => {
          clearTimeout(deadline);
          resolve();
        },
      );
    });
    if (!closed) {
      // Jittered, so that the nodes of a hub do not all reconnect in step after a database restart.
      retryTimer = setTimeout(connect, retryMs * (0.5 + Math.random() / 2));
      retryTimer.unref();
      retryMs = Math.min(retryMs * 2, maxRetryMs);
    }
    return ended;
  };

  function connect(): void {
    if (closed) return;
    const current = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: `dx ${options.channel}`,
    });
    client = current;
    current.on('error', (error) => void drop(current, error));
    current.on('end', () => void drop(current));
    current.on('notification', (message) => {
      if (message.channel !== options.channel) return;
      const payload = message.payload ?? '';
      if (payload.startsWith(HEARTBEAT_PREFIX)) {
        if (!payload.startsWith(self)) return;
        const sentAt = pending.get(Number(payload.slice(self.length)));
        if (sentAt !== undefined) {
          confirmedAt = Math.max(confirmedAt, sentAt);
          for (const [sequence, at] of pending) if (at <= sentAt) pending.delete(sequence);
        }
        return;
      }
      handlers.onChange(payload);
    });
    let beatInFlight = false;
    const beat = (): void => {
      if (client !== current) return;
      const oldest = Math.min(...pending.values());
      if (pending.size > 0 && now() - oldest > 3 * heartbeatMs) {
        void drop(current, new Error(`change feed ${options.channel}: no heartbeat came back for ${Math.round(now() - oldest)} ms`));
        return;
      }
      // One heartbeat query at a time: a hung connection would otherwise queue one per beat (and pg warns of it).
      if (beatInFlight) return;
      sequence += 1;
      pending.set(sequence, now());
      beatInFlight = true;
      current
        .query('select pg_notify($1, $2)', [options.channel, `${self}${sequence}`])
        .then(
          () => undefined,
          (error: unknown) => void drop(current, error),
        )
        .finally(() => {
          beatInFlight = false;
        });
    };
    const start = async (): Promise<void> => {
      await current.connect();
      await current.query(`listen ${options.channel}`);
      if (client !== current) return;
      retryMs = firstRetryMs;
      // Listening from here on: what commits later is delivered.
      confirmedAt = now();
      heartbeatTimer = setInterval(beat, heartbeatMs);
      heartbeatTimer.unref();
      setLive(true);
    };
    start().catch((error: unknown) => void drop(current, error));
  }

  connect();
  return {
    get live() {
      return live;
    },
    current(withinMs) {
      return live && now() - confirmedAt <= withinMs;
    },
    waitLive(timeoutMs) {
      if (live) return Promise.resolve();
      if (closed) return Promise.reject(new Error(`change feed ${options.channel} is closed`));
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (error: Error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`change feed ${options.channel} not live after ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        waiters.add(waiter);
      });
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      for (const waiter of waiters) waiter.reject(new Error(`change feed ${options.channel} closed`));
      waiters = new Set();
      if (client) await drop(client);
    },
  };
}
