import { ForbiddenError, NotFoundError, UnauthorizedError } from '../platform/errors.js';
import { PRINCIPAL_LABELS, REQUEST_PRINCIPAL_KINDS, type Principal, type RequestPrincipalKind } from './principal.js';

/**
 * The role × operation matrix: for every operation of the API (keyed by its OpenAPI operationId),
 * which principal kinds may call it and on what:
 * - `any`: without a scope restriction;
 * - `ownOffice`: only on its own office (the office in the path or of the resource);
 * - `ownBranch`: only on its own branch's resources (an office administrator: any branch of its office).
 *
 * Every service operation starts with `requireAccess(principal, operationId, scope)`. A test walks
 * every operation of the OpenAPI document and fails when one is missing here, and `docs/permissions.md`
 * is generated from this table (`npm run docs:permissions`).
 */
export type Grant = 'any' | 'ownOffice' | 'ownBranch';

export interface OperationRule {
  grants: Partial<Record<RequestPrincipalKind, Grant>>;
  /** A condition on the office concerned, checked after the grant. */
  requires?: 'providingOffice';
  /**
   * A deposit (data pushed into the hub): it must be attributable to a named examiner or a registered client, so
   * an office administrator or the operator gets 403 DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT rather than the generic refusal.
   */
  depositor?: true;
  /** Part of the contract but not an HTTP route yet. */
  planned?: true;
  note?: string;
}

const EVERYONE: OperationRule = { grants: { anonymous: 'any', operator: 'any', officeAdmin: 'any', examiner: 'any', client: 'any' } };
const SIGNED_IN: OperationRule = { grants: { operator: 'any', officeAdmin: 'any', examiner: 'any', client: 'any' } };
const PEOPLE: OperationRule = { grants: { operator: 'any', officeAdmin: 'any', examiner: 'any' } };
const OPERATOR: OperationRule = { grants: { operator: 'any' } };
const OFFICE_ADMINISTRATION: OperationRule = { grants: { operator: 'any', officeAdmin: 'ownOffice' } };
const DEPOSIT_NOTE = 'deposits must be attributable to a named examiner or a registered client: an office administrator or the operator gets 403 DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT';
const DEPOSIT: OperationRule = { grants: { examiner: 'ownOffice', client: 'ownOffice' }, requires: 'providingOffice', depositor: true, note: DEPOSIT_NOTE };
const PROVIDING_OFFICE: OperationRule = { grants: { officeAdmin: 'ownOffice', examiner: 'ownOffice', client: 'ownOffice' } };

const SECTIONS = {
  Operations: {
    getHealth: EVERYONE,
    getReadiness: EVERYONE,
    getMetrics: EVERYONE,
    getOpenApiDocument: EVERYONE,
  },
  'Authentication and tokens': {
    login: { ...EVERYONE, note: 'people (operator, administrators, examiners); rate limited per account and per IP' },
    refreshSession: { ...EVERYONE, note: 'the refresh token is the credential' },
    logout: { ...EVERYONE, note: 'the refresh token is the credential' },
    requestClientToken: { ...EVERYONE, note: 'the client authenticates with client_secret_basic or private_key_jwt' },
    setupOperator: { ...EVERYONE, note: 'needs the one-time setup token; works once, while the hub has no operator' },
    setPasswordWithToken: { ...EVERYONE, note: 'needs an invitation or password-reset token' },
    getJwks: EVERYONE,
    getMe: SIGNED_IN,
    changeOwnPassword: PEOPLE,
  },
  Offices: {
    listOffices: EVERYONE,
    getOffice: EVERYONE,
    createOffice: OPERATOR,
    updateOffice: OPERATOR,
    getOfficeStatistics: { ...OFFICE_ADMINISTRATION, note: 'per month: who read the office’s documents (by office and document code) and what it read of others' },
    getOfficeCoverage: { ...EVERYONE, note: 'counts only: published applications by year, and documents shared with every accessing office by code and year' },
  },
  Branches: {
    listBranches: OFFICE_ADMINISTRATION,
    createBranch: OFFICE_ADMINISTRATION,
    getBranch: OFFICE_ADMINISTRATION,
    updateBranch: OFFICE_ADMINISTRATION,
    deleteBranch: { ...OFFICE_ADMINISTRATION, note: 'only when no account and no active client is in it' },
  },
  Users: {
    listUsers: OFFICE_ADMINISTRATION,
    createUser: { ...OFFICE_ADMINISTRATION, note: 'only the operator creates an office administrator (one per office)' },
    getUser: OFFICE_ADMINISTRATION,
    updateUser: OFFICE_ADMINISTRATION,
    resetUserPassword: OFFICE_ADMINISTRATION,
  },
  'API clients': {
    listClients: OFFICE_ADMINISTRATION,
    createClient: { ...OFFICE_ADMINISTRATION, note: 'only for an office with the providing role' },
    getClient: OFFICE_ADMINISTRATION,
    rotateClientCredentials: OFFICE_ADMINISTRATION,
    revokeClient: OFFICE_ADMINISTRATION,
  },
  'Security audit': {
    listAuditEvents: OPERATOR,
    listOfficeAuditEvents: OFFICE_ADMINISTRATION,
  },
  'Signing keys': {
    listSigningKeys: OPERATOR,
    rotateSigningKey: OPERATOR,
  },
  Dossiers: {
    normalizeNumber: EVERYONE,
    searchApplications: {
      ...EVERYONE,
      note: 'under the visibility rule: other offices’ published applications for active accessing offices; for other readers only those with a document visible to them',
    },
    getApplication: { ...EVERYONE, note: 'under the visibility rule (as searchApplications); an application the caller may not see is 404, like an unknown one' },
    listApplicationDocuments: { ...EVERYONE, note: 'under the visibility rule: lists and counts only the documents the caller may see' },
    getDocument: { ...EVERYONE, note: 'under the visibility rule (DESIGN §3): a document the caller may not see is 404, like an unknown id' },
    getDocumentContent: { ...EVERYONE, note: 'under the visibility rule; streamed, with Range and ETag' },
    getCitations: {
      grants: { officeAdmin: 'any', examiner: 'any', client: 'any' },
      note: 'the providing office, and active accessing offices once the application is published (else 404); citations attached to a document the caller may not see are left out',
    },
  },
  Families: {
    getFamily: { ...EVERYONE, note: 'under the visibility rule: members are the applications the caller may see (a family with none is 404), and only documents it may see are counted' },
    getFamilyTimeline: { ...EVERYONE, note: 'under the visibility rule: filings and publications of the members the caller may see, and only documents it may see' },
    getFamilyCitations: {
      grants: { officeAdmin: 'any', examiner: 'any', client: 'any' },
      note: 'citations of the members whose citations the caller may read (as getCitations); those attached to a document it may not see are left out',
    },
  },
  Deposits: {
    putApplication: DEPOSIT,
    ingestApplications: { ...DEPOSIT, note: `every line must be an application of the caller’s own office (others are refused line by line); ${DEPOSIT_NOTE}` },
    depositDocument: DEPOSIT,
    depositDocumentVersion: { ...DEPOSIT, note: `a correction of a document of the caller’s office (other offices: 404 unless they may see it, then 403); ${DEPOSIT_NOTE}` },
    updateDocument: { ...PROVIDING_OFFICE, note: 'visibility, allowed offices, withdrawal and reinstatement, by the providing office (any branch); other offices: 404 unless they may see the document, then 403' },
    listDocumentChanges: { ...PROVIDING_OFFICE, note: 'the providing office (any branch)' },
    getDocumentReceipt: {
      grants: { officeAdmin: 'ownBranch', examiner: 'ownBranch', client: 'ownBranch' },
      note: 'receipts are shared inside the depositing branch (the office administrator: every branch)',
    },
    putCitations: DEPOSIT,
    createPackage: { ...DEPOSIT, note: `a bulk deposit (zip with a manifest) for the caller’s own office, processed as a job; ${DEPOSIT_NOTE}` },
    getPackage: {
      grants: { officeAdmin: 'ownBranch', examiner: 'ownBranch', client: 'ownBranch' },
      note: 'packages are shared inside the submitting branch (the office administrator: every branch); others get 404',
    },
    listPackages: {
      grants: { officeAdmin: 'ownBranch', examiner: 'ownBranch', client: 'ownBranch' },
      note: 'the packages of the caller’s branch (the office administrator: of every branch of its office)',
    },
    listDocumentCodes: SIGNED_IN,
    createDocumentCode: { ...OPERATOR, note: 'extends the controlled vocabulary of document codes' },
  },
} as const satisfies Record<string, Record<string, OperationRule>>;

type Sections = typeof SECTIONS;
export type OperationId = Extract<{ [Section in keyof Sections]: keyof Sections[Section] }[keyof Sections], string>;

export const PERMISSIONS: Readonly<Record<OperationId, OperationRule>> = Object.assign({}, ...Object.values(SECTIONS)) as Record<OperationId, OperationRule>;

export function isOperationId(value: string): value is OperationId {
  return Object.hasOwn(PERMISSIONS, value);
}

/** What the operation concerns, for scoped grants and conditions. */
export interface AccessScope {
  /** The office the operation acts on (path parameter or the resource's office). */
  officeCode?: string;
  /** The branch of the resource, for `ownBranch` grants. */
  branchId?: string | null;
  /** Whether the office concerned has the providing role, for `requires: 'providingOffice'`. */
  officeProviding?: boolean;
}

const depositRefused = (kind: 'officeAdmin' | 'operator' | 'system'): ForbiddenError =>
  new ForbiddenError(
    'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT',
    `A ${PRINCIPAL_LABELS[kind]} cannot deposit: deposits need a branch examiner or an API client, so that each is attributable`,
  );

const describeKinds = (rule: OperationRule): string =>
  REQUEST_PRINCIPAL_KINDS.filter((kind) => rule.grants[kind] !== undefined)
    .map((kind) => PRINCIPAL_LABELS[kind] + (rule.grants[kind] === 'any' ? '' : rule.grants[kind] === 'ownOffice' ? ' (own office)' : ' (own branch)'))
    .join(', ');

function grantOf(rule: OperationRule, operationId: string, principal: Principal): Grant | 'system' {
  if (principal.kind === 'system') return 'system';
  const grant = rule.grants[principal.kind];
  if (grant !== undefined) return grant;
  if (principal.kind === 'anonymous') {
    throw new UnauthorizedError('AUTHENTICATION_REQUIRED', `${operationId} needs a bearer access token (POST /v1/auth/login or /v1/auth/token)`);
  }
  if (rule.depositor && (principal.kind === 'officeAdmin' || principal.kind === 'operator')) throw depositRefused(principal.kind);
  throw new ForbiddenError('OPERATION_NOT_PERMITTED', `A ${PRINCIPAL_LABELS[principal.kind]} may not call ${operationId}; it is for: ${describeKinds(rule)}`, {
    operationId,
  });
}

function requireOwnOffice(principal: Principal, operationId: string, officeCode: string): void {
  if (!('officeCode' in principal)) throw new Error(`${operationId}: a scoped grant for ${principal.kind}, which has no office`);
  if (officeCode.trim().toUpperCase() !== principal.officeCode) {
    throw new ForbiddenError('OTHER_OFFICE_FORBIDDEN', `A ${PRINCIPAL_LABELS[principal.kind]} of ${principal.officeCode} may act on its own office only`, { operationId });
  }
}

/**
 * Checks one rule (see requireAccess). Anonymous callers of a protected operation get 401; a principal
 * kind the rule does not admit gets 403; another office gets 403 (office codes are public, so this
 * reveals nothing); another branch's resource gets 404 (branches are isolated and their resources'
 * existence must not leak).
 */
export function checkRule(rule: OperationRule, operationId: string, principal: Principal, scope: AccessScope = {}): void {
  const grant = grantOf(rule, operationId, principal);
  if (grant === 'system') return;
  if (grant !== 'any') {
    if (scope.officeCode === undefined) throw new Error(`${operationId} checks an office-scoped grant without the office concerned`);
    requireOwnOffice(principal, operationId, scope.officeCode);
    if (grant === 'ownBranch' && 'branchId' in principal) {
      if (scope.branchId === undefined) throw new Error(`${operationId} checks a branch-scoped grant without the branch concerned`);
      if (scope.branchId !== principal.branchId) throw new NotFoundError('NOT_FOUND', 'No such resource in your branch');
    }
  }
  if (rule.requires === 'providingOffice' && scope.officeProviding !== true) {
    throw new ForbiddenError('OFFICE_NOT_PROVIDING', `${operationId} needs an office with the providing role`, { operationId });
  }
}

/** The permission check every service operation starts with, against the matrix. */
export function requireAccess(principal: Principal, operationId: OperationId, scope: AccessScope = {}): void {
  checkRule(PERMISSIONS[operationId], operationId, principal, scope);
}

/**
 * What can be checked from the request line alone, before the body is read: the principal kind and, for
 * scoped grants, the office in the path. The authentication plugin runs it on every route (by operationId);
 * the service checks again with the full scope.
 */
export function requireRouteAccess(principal: Principal, operationId: OperationId, pathOfficeCode: string | undefined): void {
  const grant = grantOf(PERMISSIONS[operationId], operationId, principal);
  if ((grant === 'ownOffice' || grant === 'ownBranch') && pathOfficeCode !== undefined) requireOwnOffice(principal, operationId, pathOfficeCode);
}

/** The operations a principal may call, with the scope of each: what `GET /v1/me` lists. */
export function permissionsOf(principal: Principal, office: { providing: boolean } | null): { operationId: OperationId; scope: Grant }[] {
  if (principal.kind === 'system') return [];
  const allowed: { operationId: OperationId; scope: Grant }[] = [];
  for (const [operationId, rule] of Object.entries(PERMISSIONS) as [OperationId, OperationRule][]) {
    const grant = rule.grants[principal.kind];
    if (grant === undefined) continue;
    if (rule.requires === 'providingOffice' && !office?.providing) continue;
    allowed.push({ operationId, scope: grant });
  }
  return allowed;
}

export type Depositor = Extract<Principal, { kind: 'examiner' | 'client' }>;

/**
 * The check that opens every deposit: the office administrator (master account) and the operator cannot
 * deposit, because a deposit must be attributable to a named examiner or a registered client (403
 * DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT); then the deposit operation's grant (own office, providing role).
 */
export function requireDepositor(
  principal: Principal,
  scope: { officeCode: string; officeProviding: boolean },
  operationId: DepositOperationId = 'depositDocument',
): Depositor {
  if (principal.kind === 'officeAdmin' || principal.kind === 'operator' || principal.kind === 'system') throw depositRefused(principal.kind);
  requireAccess(principal, operationId, scope);
  return principal as Depositor;
}

/** The operations that are deposits (`depositor: true`). */
export type DepositOperationId = 'putApplication' | 'ingestApplications' | 'depositDocument' | 'depositDocumentVersion' | 'putCitations' | 'createPackage';

const CELL: Record<Grant, string> = { any: 'yes', ownOffice: 'own office', ownBranch: 'own branch' };
const COLUMN_TITLES: Record<RequestPrincipalKind, string> = {
  anonymous: 'anonymous',
  operator: 'operator',
  officeAdmin: 'office admin',
  examiner: 'examiner',
  client: 'API client',
};

/** docs/permissions.md, generated from the matrix. */
export function renderPermissionsMarkdown(): string {
  const lines = [
    '# Permissions',
    '',
    '<!-- Generated from src/access/permissions.ts by `npm run docs:permissions`; a test fails when this file differs. -->',
    '',
    'Who may call each operation of the API, by principal (DESIGN §1). Every service operation starts with',
    '`requireAccess(principal, operationId, scope)` against this table.',
    '',
    '- **yes**: without restriction; **own office**: only on the principal’s own office; **own branch**: only on',
    '  resources of the principal’s branch (an office administrator: every branch of its office); **—**: refused.',
    '- An anonymous caller of a protected operation gets `401 AUTHENTICATION_REQUIRED`; a principal the operation',
    '  does not admit gets `403 OPERATION_NOT_PERMITTED`; another office gets `403 OTHER_OFFICE_FORBIDDEN`;',
    '  a resource of another branch answers `404`, so its existence does not leak.',
    '- The command line (`npm run cli`) acts with the database itself and is not subject to this table.',
    '',
  ];
  for (const [section, rules] of Object.entries(SECTIONS) as [string, Record<string, OperationRule>][]) {
    lines.push(`## ${section}`, '');
    lines.push(`| operation | ${REQUEST_PRINCIPAL_KINDS.map((kind) => COLUMN_TITLES[kind]).join(' | ')} | notes |`);
    lines.push(`|---|${REQUEST_PRINCIPAL_KINDS.map(() => '---').join('|')}|---|`);
    for (const [operationId, rule] of Object.entries(rules)) {
      const cells = REQUEST_PRINCIPAL_KINDS.map((kind) => {
        const grant = rule.grants[kind];
        return grant === undefined ? '—' : CELL[grant];
      });
      const notes = [
        rule.requires === 'providingOffice' ? 'the office must have the providing role' : undefined,
        rule.note,
        rule.planned ? 'planned: not an HTTP route yet' : undefined,
      ].filter((note) => note !== undefined);
      lines.push(`| \`${operationId}\` | ${cells.join(' | ')} | ${notes.join('; ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
