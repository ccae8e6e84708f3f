import type { Account } from './account.entity.js';
import type { ApiClient } from './api-client.entity.js';

/**
 * Who is calling. Built on every request by the authentication plugin from the bearer token and the
 * account or client row it names (so disabling or suspending takes effect on the next request).
 */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'operator'; userId: string }
  | { kind: 'officeAdmin'; userId: string; officeCode: string }
  | { kind: 'examiner'; userId: string; officeCode: string; branchId: string }
  | { kind: 'client'; clientId: string; officeCode: string; branchId: string }
  /** The local command line, which holds the database itself; never built from an HTTP request. */
  | { kind: 'system'; actor: string };

export type PrincipalKind = Principal['kind'];
/** The kinds an HTTP request can carry: the permission matrix has one column per kind. */
export const REQUEST_PRINCIPAL_KINDS = ['anonymous', 'operator', 'officeAdmin', 'examiner', 'client'] as const;
export type RequestPrincipalKind = (typeof REQUEST_PRINCIPAL_KINDS)[number];

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** The principal of the command line (`npm run cli`). */
export function systemPrincipal(actor = 'cli'): Principal {
  return { kind: 'system', actor };
}

export const PRINCIPAL_LABELS: Record<PrincipalKind, string> = {
  anonymous: 'anonymous caller',
  operator: 'hub operator',
  officeAdmin: 'office administrator',
  examiner: 'examiner',
  client: 'API client',
  system: 'command line',
};

/** The id an audit event records for the principal. */
export function principalId(principal: Principal): string | null {
  switch (principal.kind) {
    case 'anonymous':
      return null;
    case 'client':
      return principal.clientId;
    case 'system':
      return principal.actor;
    default:
      return principal.userId;
  }
}

export function principalOffice(principal: Principal): string | null {
  return 'officeCode' in principal ? principal.officeCode : null;
}

export function principalBranch(principal: Principal): string | null {
  return 'branchId' in principal ? principal.branchId : null;
}

/** The principal an account acts as. */
export function principalOfAccount(account: Pick<Account, 'id' | 'role' | 'officeCode' | 'branchId'>): Principal {
  if (account.role === 'operator') return { kind: 'operator', userId: account.id };
  if (!account.officeCode) throw new Error(`Account ${account.id} (${account.role}) has no office`);
  if (account.role === 'officeAdmin') return { kind: 'officeAdmin', userId: account.id, officeCode: account.officeCode };
  if (!account.branchId) throw new Error(`Examiner ${account.id} has no branch`);
  return { kind: 'examiner', userId: account.id, officeCode: account.officeCode, branchId: account.branchId };
}

/** The principal an API client acts as (null once its branch is gone: only revoked clients lose it). */
export function principalOfClient(client: Pick<ApiClient, 'id' | 'officeCode' | 'branchId'>): Principal | null {
  return client.branchId ? { kind: 'client', clientId: client.id, officeCode: client.officeCode, branchId: client.branchId } : null;
}
