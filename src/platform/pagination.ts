import { BadRequestError } from './errors.js';

/** Opaque keyset cursors: base64url JSON of the last item's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === arity && key.every((part) => typeof part === 'string' || typeof part === 'number')) {
      return key;
    }
  } catch {
    // fall through to the typed error
  }
  throw new BadRequestError('INVALID_CURSOR', 'The cursor is not one this API issued; start again without it');
}

export const DEFAULT_PAGE_LIMIT = 50;

/** A list request: `limit` (default 50) and the cursor of a previous page. */
export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

/**
 * Keyset paging, given the rows found after the cursor's key with `limit + 1` as the query limit:
 * the page's items and, when a row was left over, the cursor of the next page.
 */
export function pageFrom<Row, Item>(rows: readonly Row[], limit: number, view: (row: Row) => Item, key: (row: Row) => string | number): { items: Item[]; nextCursor?: string } {
  const kept = rows.slice(0, limit);
  const items = kept.map(view);
  const last = kept.at(-1);
  return rows.length > limit && last !== undefined ? { items, nextCursor: encodeCursor([key(last)]) } : { items };
}
