import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const PROVIDER_MODES = ['repository', 'webService'] as const;
export type ProviderMode = (typeof PROVIDER_MODES)[number];
export const OFFICE_STATUSES = ['active', 'suspended'] as const;
export type OfficeStatus = (typeof OFFICE_STATUSES)[number];

/** A patent office taking part in the exchange, keyed by its WIPO ST.3 code. */
export const OfficeEntity = defineEntity({
  name: 'Office',
  tableName: 'office',
  properties: (p) => ({
    code: p.string().length(2).primary(),
    name: p.string().length(200),
    /** Null when the office does not provide dossiers. */
    providerMode: p.enum([...PROVIDER_MODES]).nullable(),
    /** Base URL of the office's dossier web service (providerMode = webService). */
    webServiceUrl: p.string().length(2000).nullable(),
    accessing: p.boolean().default(false),
    publicAccess: p.boolean().default(false),
    status: p.enum([...OFFICE_STATUSES]).default('active'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});

export type Office = InferEntity<typeof OfficeEntity>;
