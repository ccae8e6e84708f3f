/** The error a deadline raises: `code` ETIMEDOUT so the problem handler treats it as a dependency being unavailable. */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(message: string) {
    super(message);
    this.name = 'DeadlineError';
  }
}

/**
 * Rejects after `ms` unless `work` settles first: with DeadlineError(message), or with the error `late` makes. The
 * work keeps its own (bounded) timeouts; a late rejection of it is swallowed so it never surfaces as unhandled.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, late: string | (() => Error)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(typeof late === 'string' ? new DeadlineError(late) : late()), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
