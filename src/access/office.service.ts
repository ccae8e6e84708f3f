import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, NotFoundError, UnprocessableError } from '../platform/errors.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import type { AuditLog } from './audit.js';
import { OfficeEntity, type Office } from './office.entity.js';
import type { CreateOfficeInput, OfficeRole, OfficeView, UpdateOfficeInput } from './office.schemas.js';
import { requireAccess } from './permissions.js';
import type { Principal } from './principal.js';
import { isSt3Code } from './st3.js';

export interface OfficeServiceDeps {
  em: EntityManager;
  audit: AuditLog;
}

/** The office with this ST.3 code (any letter case), or 404 OFFICE_NOT_FOUND. */
export async function findOfficeOrThrow(em: EntityManager, rawCode: string): Promise<Office> {
  const office = await em.findOne(OfficeEntity, { code: rawCode.trim().toUpperCase() });
  if (!office) throw new NotFoundError('OFFICE_NOT_FOUND', `No office with code "${rawCode}"`);
  return office;
}

export function toOfficeView(office: Office): OfficeView {
  const roles: OfficeRole[] = [];
  if (office.providerMode) roles.push('providing');
  if (office.accessing) roles.push('accessing');
  return {
    code: office.code,
    name: office.name,
    roles,
    providerMode: office.providerMode ?? null,
    publicAccess: office.publicAccess,
    status: office.status,
  };
}

function normaliseCode(raw: string): string {
  const code = raw.trim().toUpperCase();
  if (!isSt3Code(code)) {
    throw new UnprocessableError('UNKNOWN_OFFICE_CODE', `"${raw}" is not a WIPO ST.3 office code (two letters such as CN, EP, US, WO)`, { code: raw });
  }
  return code;
}

/** Roles and provider settings must agree: a providing office has a mode; a web-service provider has a URL. */
function checkProviderSettings(roles: readonly OfficeRole[], providerMode: Office['providerMode'] | undefined, webServiceUrl: string | null | undefined): void {
  const providing = roles.includes('providing');
  if (providing && !providerMode) {
    throw new UnprocessableError('PROVIDER_MODE_REQUIRED', 'An office with the providing role needs providerMode "repository" or "webService"');
  }
  if (!providing && providerMode) {
    throw new UnprocessableError('PROVIDER_MODE_WITHOUT_ROLE', 'providerMode is only meaningful for an office with the providing role');
  }
  if (providerMode === 'webService' && !webServiceUrl) {
    throw new UnprocessableError('WEB_SERVICE_URL_REQUIRED', 'A webService provider needs webServiceUrl (http or https)');
  }
  if (webServiceUrl && !/^https?:\/\//i.test(webServiceUrl)) {
    throw new UnprocessableError('INVALID_WEB_SERVICE_URL', 'webServiceUrl must be an http or https URL');
  }
}

/** The office registry: public reads, operator writes. */
export function createOfficeService({ em, audit }: OfficeServiceDeps) {
  return {
    async list(principal: Principal, page: PageRequest): Promise<{ items: OfficeView[]; nextCursor?: string }> {
      requireAccess(principal, 'listOffices');
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(OfficeEntity, after === undefined ? {} : { code: { $gt: after } }, {
        orderBy: { code: 'asc' },
        limit: limit + 1,
      });
      return pageFrom(rows, limit, toOfficeView, (row) => row.code);
    },

    async get(principal: Principal, rawCode: string): Promise<OfficeView> {
      requireAccess(principal, 'getOffice');
      return toOfficeView(await findOfficeOrThrow(em, rawCode));
    },

    async create(principal: Principal, input: CreateOfficeInput): Promise<OfficeView> {
      requireAccess(principal, 'createOffice');
      const code = normaliseCode(input.code);
      const roles = input.roles;
      const providerMode = input.providerMode ?? null;
      checkProviderSettings(roles, providerMode, input.webServiceUrl);
      if (await em.findOne(OfficeEntity, { code })) {
        throw new ConflictError('OFFICE_EXISTS', `Office "${code}" already exists`);
      }
      const office = em.create(OfficeEntity, {
        code,
        name: input.name.trim(),
        providerMode,
        webServiceUrl: input.webServiceUrl ?? null,
        accessing: roles.includes('accessing'),
        publicAccess: input.publicAccess,
        status: input.status ?? 'active',
      });
      em.persist(office);
      audit.record(principal, { type: 'office.created', officeCode: code, target: { type: 'office', id: code }, details: { office: toOfficeView(office) } });
      await em.flush();
      return toOfficeView(office);
    },

    async update(principal: Principal, rawCode: string, input: UpdateOfficeInput): Promise<OfficeView> {
      requireAccess(principal, 'updateOffice');
      const office = await findOfficeOrThrow(em, rawCode);
      const before = toOfficeView(office);
      const roles = input.roles ?? toOfficeView(office).roles;
      // Dropping the providing role clears the mode unless the caller set one explicitly.
      const providerMode = input.providerMode !== undefined ? input.providerMode : roles.includes('providing') ? office.providerMode : null;
      const webServiceUrl = input.webServiceUrl !== undefined ? input.webServiceUrl : office.webServiceUrl;
      checkProviderSettings(roles, providerMode, webServiceUrl);
      em.assign(office, {
        name: input.name?.trim() ?? office.name,
        providerMode,
        webServiceUrl: webServiceUrl ?? null,
        accessing: roles.includes('accessing'),
        publicAccess: input.publicAccess ?? office.publicAccess,
        status: input.status ?? office.status,
      });
      const after = toOfficeView(office);
      audit.record(principal, {
        type: 'office.updated',
        officeCode: office.code,
        target: { type: 'office', id: office.code },
        details: { changes: input, before, after },
      });
      await em.flush();
      return after;
    },
  };
}

export type OfficeService = ReturnType<typeof createOfficeService>;
