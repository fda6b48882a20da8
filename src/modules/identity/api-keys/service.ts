// The API keys service: who may hold which scopes, rolling with a grace period, revoking, and turning a presented
// secret into the Principal of its owner.
//   1. A key's scopes are a subset of what its owner's role allows and of what the creating credential holds.
//   2. A publishable key holds `products:read` and nothing else.
//   3. Only an admin creates, reads, rolls or revokes another user's keys; to anyone else they do not exist (404).
//   4. A secret works while its key is neither revoked nor expired, and, once rolled, until its grace period ends.
//   5. The owner is checked on every use: an owner who is gone or inactive makes the key fail, and a changed role
//      narrows the key's scopes at once. Key and owner come from lookups.ts, which forgets them when either changes
//      (`forgetOwner` is called by the users' write path, see forgettingKeysOf).
//   6. The last-used time is written at most once a minute per key, so reads do not each cost a write.
import type { KeyValue } from '../../../adapters/kv/port.ts';
import type { Clock } from '../../../kernel/clock.ts';
import { ApiError, invalid, notFound } from '../../../kernel/errors.ts';
import { isId, newId } from '../../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../../kernel/pagination.ts';
import type { Storage } from '../../../storage/database.ts';
import type { UserRecord, UsersService } from '../../users/index.ts';
import { type Principal, type Role, scopesOfRole } from '../principal.ts';
import { type KeyLookup, keyLookups } from './lookups.ts';
import * as repository from './repository.ts';
import {
  type ApiKeyCreate,
  type ApiKeyRecord,
  type ApiKeyRoll,
  defaultGracePeriodSeconds,
  type IssuedApiKey,
} from './schema.ts';
import { generateSecret, hashSecret, lastFourOf, parseKey, prefixOf } from './secrets.ts';

/** The authenticated user acting on keys, and what their credential allows. */
export interface Caller {
  userId: string;
  role: Role | null;
  scopes: ReadonlySet<string>;
}

export interface ApiKeysService {
  create(caller: Caller, input: ApiKeyCreate): Promise<IssuedApiKey>;
  /** For the operator's command line, which acts for no user: only the owner's role bounds the scopes. */
  createForOwner(ownerId: string, input: ApiKeyCreate): Promise<IssuedApiKey>;
  list(caller: Caller, filters: { ownerId?: string }, page: PageRequest): Promise<PageResult<ApiKeyRecord>>;
  get(caller: Caller, id: string): Promise<ApiKeyRecord>;
  roll(caller: Caller, id: string, input: ApiKeyRoll): Promise<IssuedApiKey>;
  revoke(caller: Caller, id: string): Promise<ApiKeyRecord>;
  /** The Principal a presented key stands for, or null when it is not a working key. */
  authenticate(secret: string): Promise<Principal | null>;
  /** To be called once a change to a user has committed: their keys are looked up afresh. */
  forgetOwner(userId: string): Promise<void>;
}

const kind = 'API key';
const publishableScopes: readonly string[] = ['products:read'];
const touchIntervalMs = 60 * 1000;

/** What a remembered lookup stands for: null when it can never work (revoked, or its owner not active). */
interface Grant {
  principal: Principal;
  /** When the key expires and when this secret stops working (a rolled one's grace), in epoch ms; Infinity for never. */
  keyEndsAtMs: number;
  secretEndsAtMs: number;
  lastUsedMs: number;
}

const instantMs = (instant: string | null, otherwise: number): number =>
  instant === null ? otherwise : Date.parse(instant);

function grantOf({ key, secretExpiresAt, owner }: KeyLookup): Grant | null {
  if (key.revokedAt !== null || owner?.status !== 'active') return null;
  const allowed = scopesOfRole(owner.role);
  return {
    principal: {
      method: 'api-key',
      userId: owner.id,
      role: owner.role,
      scopes: new Set(key.scopes.filter((scope) => allowed.includes(scope))),
      credentialId: key.id,
      publishable: key.type === 'publishable',
      mode: key.mode,
      ...(key.tier === null ? {} : { tier: key.tier }),
      ...(key.apiVersion === null ? {} : { apiVersion: key.apiVersion }),
    },
    keyEndsAtMs: instantMs(key.expiresAt, Number.POSITIVE_INFINITY),
    secretEndsAtMs: instantMs(secretExpiresAt, Number.POSITIVE_INFINITY),
    lastUsedMs: instantMs(key.lastUsedAt, Number.NEGATIVE_INFINITY),
  };
}

export function apiKeysService(
  storage: Storage,
  clock: Clock,
  users: UsersService,
  keyValue: KeyValue,
): ApiKeysService {
  const lookups = keyLookups(keyValue);
  // A remembered lookup comes back as the same object while its entry is unchanged (lookups.ts), so what it grants
  // and the instants it is checked against are worked out once for it rather than at every request; a changed
  // entry is a new object.
  const grants = new WeakMap<KeyLookup, Grant | null>();
  const forgetKey = async (keyId: string) => lookups.forget(await repository.secretHashesOf(storage.db, { keyId }));

  async function ownerFor(ownerId: string): Promise<UserRecord> {
    const [owner] = await users.getMany([ownerId]);
    if (!owner) throw invalid('ownerId', 'NOT_FOUND', `no user has the id '${ownerId}'.`);
    if (owner.status !== 'active') throw invalid('ownerId', 'INACTIVE', 'the owner must be an active user.');
    return owner;
  }

  async function issue(owner: UserRecord, input: ApiKeyCreate, callerScopes: ReadonlySet<string> | null) {
    const type = input.type ?? 'secret';
    const mode = input.mode ?? 'test';
    const ceiling = (type === 'publishable' ? publishableScopes : scopesOfRole(owner.role)).filter(
      (scope) => callerScopes === null || callerScopes.has(scope),
    );
    const refused = (input.scopes ?? []).filter((scope) => !ceiling.includes(scope));
    if (refused.length > 0) {
      const why =
        type === 'publishable'
          ? 'a publishable key may only hold products:read'
          : "beyond what the owner's role and your own credential allow";
      throw new ApiError('INSUFFICIENT_PERMISSIONS', `This key cannot hold ${refused.join(', ')}: ${why}.`, {
        details: [{ field: 'scopes', code: 'NOT_ALLOWED', message: `Not allowed: ${refused.join(', ')}.` }],
      });
    }
    const at = clock();
    if (input.expiresAt !== undefined && Date.parse(input.expiresAt) <= at.getTime()) {
      throw invalid('expiresAt', 'IN_THE_PAST', 'expiresAt must be in the future.');
    }
    const secret = generateSecret(type, mode);
    const key: ApiKeyRecord = {
      id: newId('key', at.getTime()),
      ownerId: owner.id,
      name: input.name ?? kind,
      type,
      mode,
      scopes: input.scopes ?? [...ceiling],
      tier: input.tier ?? null,
      apiVersion: input.apiVersion ?? null,
      prefix: prefixOf(type, mode),
      last4: lastFourOf(secret),
      version: 1,
      createdAt: at.toISOString(),
      lastUsedAt: null,
      expiresAt: input.expiresAt === undefined ? null : new Date(input.expiresAt).toISOString(),
      revokedAt: null,
    };
    await storage.db.transaction().execute((trx) => repository.insertKey(trx, key, hashSecret(secret)));
    return { key, secret };
  }

  /** The key, if the caller may see it (rule 3). */
  async function visible(caller: Caller, id: string): Promise<ApiKeyRecord> {
    const key = isId('key', id) ? await repository.findKey(storage.db, id) : null;
    if (!key || (key.ownerId !== caller.userId && caller.role !== 'admin')) throw notFound(kind, id);
    return key;
  }

  /** What a secret stands for: remembered, or read from the database and then remembered. */
  async function lookUp(secretHash: string): Promise<KeyLookup | null> {
    const remembered = await lookups.find(secretHash);
    if (remembered) return remembered;
    const found = await repository.findBySecretHash(storage.db, secretHash);
    if (!found) return null;
    const [owner] = await users.getMany([found.key.ownerId]);
    const lookup = { ...found, owner: owner ? { id: owner.id, role: owner.role, status: owner.status } : null };
    await lookups.remember(secretHash, lookup);
    return lookup;
  }

  return {
    async create(caller, input) {
      const ownerId = input.ownerId ?? caller.userId;
      if (ownerId !== caller.userId && caller.role !== 'admin') {
        throw new ApiError('INSUFFICIENT_PERMISSIONS', 'Only an admin may create a key for another user.', {
          details: [{ field: 'ownerId', code: 'NOT_ALLOWED', message: 'Leave ownerId out to create your own key.' }],
        });
      }
      // A tier is what a customer pays for: only an admin grants one.
      if (input.tier !== undefined && caller.role !== 'admin') {
        throw new ApiError('INSUFFICIENT_PERMISSIONS', 'Only an admin may choose the tier of a key.', {
          details: [{ field: 'tier', code: 'NOT_ALLOWED', message: "Leave tier out to get the owner's default." }],
        });
      }
      return issue(await ownerFor(ownerId), input, caller.scopes);
    },

    async createForOwner(ownerId, input) {
      return issue(await ownerFor(ownerId), input, null);
    },

    list(caller, filters, page) {
      const ownerId = filters.ownerId ?? caller.userId;
      if (ownerId !== caller.userId && caller.role !== 'admin') {
        throw new ApiError('INSUFFICIENT_PERMISSIONS', "Only an admin may list another user's keys.", {
          details: [{ field: 'ownerId', code: 'NOT_ALLOWED', message: 'Leave ownerId out to list your own keys.' }],
        });
      }
      return repository.listKeys(storage.db, ownerId, page);
    },

    get: visible,

    async roll(caller, id, input) {
      const key = await visible(caller, id);
      const at = clock();
      if (key.revokedAt !== null || (key.expiresAt !== null && Date.parse(key.expiresAt) <= at.getTime())) {
        throw new ApiError(
          'INVALID_STATE_TRANSITION',
          `This key is ${key.revokedAt !== null ? 'revoked' : 'expired'} and cannot be rolled. Create a new key.`,
        );
      }
      const secret = generateSecret(key.type, key.mode);
      const graceSeconds = input.gracePeriodSeconds ?? defaultGracePeriodSeconds;
      const graceEndsAt = new Date(at.getTime() + graceSeconds * 1000).toISOString();
      const rolled = { ...key, last4: lastFourOf(secret), version: key.version + 1 };
      const done = await storage.db
        .transaction()
        .execute((trx) =>
          repository.rollKey(trx, rolled, key.version, hashSecret(secret), at.toISOString(), graceEndsAt),
        );
      if (!done)
        throw new ApiError('CONFLICT', 'The key changed while it was being rolled. Read it again, then retry.');
      await forgetKey(key.id);
      return { key: rolled, secret };
    },

    async revoke(caller, id) {
      const key = await visible(caller, id);
      await repository.revokeKey(storage.db, key.id, clock().toISOString());
      await forgetKey(key.id);
      return (await repository.findKey(storage.db, key.id)) ?? key;
    },

    async authenticate(secret) {
      if (parseKey(secret) === null) return null;
      const secretHash = hashSecret(secret);
      const found = await lookUp(secretHash);
      if (!found) return null;
      let grant = grants.get(found);
      if (grant === undefined) {
        grant = grantOf(found);
        grants.set(found, grant);
      }
      if (grant === null) return null;
      const nowMs = clock().getTime();
      if (grant.keyEndsAtMs <= nowMs || grant.secretEndsAtMs <= nowMs) return null;
      if (nowMs - grant.lastUsedMs >= touchIntervalMs) {
        const now = new Date(nowMs);
        const notBefore = new Date(nowMs - touchIntervalMs).toISOString();
        await repository.touchKey(storage.db, found.key.id, now.toISOString(), notBefore);
        await lookups.remember(secretHash, { ...found, key: { ...found.key, lastUsedAt: now.toISOString() } });
      }
      // Each request gets its own principal object, so nothing one request does to it reaches another.
      return { ...grant.principal };
    },

    async forgetOwner(userId) {
      await lookups.forget(await repository.secretHashesOf(storage.db, { ownerId: userId }));
    },
  };
}

/** The users service whose every change, once committed, makes the user's keys be looked up afresh (rule 5). */
export function forgettingKeysOf(users: UsersService, keys: Pick<ApiKeysService, 'forgetOwner'>): UsersService {
  return {
    ...users,
    async replace(id, input, precondition) {
      const user = await users.replace(id, input, precondition);
      await keys.forgetOwner(id);
      return user;
    },
    async patch(id, patch, precondition) {
      const user = await users.patch(id, patch, precondition);
      await keys.forgetOwner(id);
      return user;
    },
    async remove(id, precondition) {
      await users.remove(id, precondition);
      await keys.forgetOwner(id);
    },
  };
}
