import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditLog } from './audit.js';
import { requireAccess } from './permissions.js';
import type { Principal } from './principal.js';
import type { KeySet, SigningKeyView } from './signing-keys.js';

type KeyView = Omit<SigningKeyView, 'createdAt' | 'activatesAt' | 'retiredAt'> & { createdAt: string; activatesAt: string; retiredAt: string | null };

function toView(key: SigningKeyView): KeyView {
  return { ...key, createdAt: key.createdAt.toISOString(), activatesAt: key.activatesAt.toISOString(), retiredAt: key.retiredAt?.toISOString() ?? null };
}

/** Listing and rotating the hub's signing keys (operator, or the command line). */
export function createKeyService({ keys, audit, em }: { keys: KeySet; audit: AuditLog; em: EntityManager }) {
  return {
    async list(principal: Principal): Promise<{ items: KeyView[] }> {
      requireAccess(principal, 'listSigningKeys');
      return { items: (await keys.list()).map(toView) };
    },

    async rotate(principal: Principal, options: { activateNow?: boolean }): Promise<KeyView> {
      requireAccess(principal, 'rotateSigningKey');
      const key = await keys.rotate({ activateNow: options.activateNow === true });
      audit.record(principal, {
        type: 'keys.rotated',
        target: { type: 'signingKey', id: key.kid },
        details: { kid: key.kid, activatesAt: key.activatesAt.toISOString(), activateNow: options.activateNow === true },
      });
      await em.flush();
      return toView(key);
    },
  };
}
