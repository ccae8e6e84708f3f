import type { Depositor } from '../access/permissions.js';
import type { KeySet } from '../access/signing-keys.js';

/** The JWS `typ` of deposit receipts. */
export const RECEIPT_TYPE = 'dossier-receipt+jws';

/**
 * What a receipt states (DESIGN §2): the hub accepted these exact bytes (SHA-256, size, media type) as this
 * document of this application, at this time, from this depositor. Signed with the hub's current key (EdDSA);
 * anyone verifies it against `GET /.well-known/jwks.json`.
 */
export interface ReceiptPayload {
  iss: string;
  /** Seconds since the epoch, as in JWTs. */
  iat: number;
  documentId: string;
  officeCode: string;
  applicationNumber: string;
  documentCode: string;
  version: number;
  /** The document this version corrects, when it is a correction. */
  supersedes?: string;
  sha256: string;
  byteSize: number;
  mediaType: string;
  receivedAt: string;
  depositor: { kind: Depositor['kind']; id: string; branchId: string };
}

export function depositorOf(principal: Depositor): ReceiptPayload['depositor'] {
  return principal.kind === 'examiner'
    ? { kind: 'examiner', id: principal.userId, branchId: principal.branchId }
    : { kind: 'client', id: principal.clientId, branchId: principal.branchId };
}

export function signReceipt(keys: Pick<KeySet, 'signJws'>, payload: ReceiptPayload): Promise<string> {
  return keys.signJws({ ...payload }, { typ: RECEIPT_TYPE });
}

/** The payload of a receipt this hub signed (throws when the signature or type does not verify). */
export async function verifyReceipt(keys: Pick<KeySet, 'verifyJws'>, receipt: string): Promise<ReceiptPayload> {
  return (await keys.verifyJws(receipt, { typ: RECEIPT_TYPE })).payload as unknown as ReceiptPayload;
}
