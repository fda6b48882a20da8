// The webhook endpoints service: registering and changing endpoints (their URL checked against SSRF, their event
// patterns against the types there are), and their signing secrets: shown once, rotated with a grace period in
// which the previous secret keeps signing. Each committed change tells the fan-out (fan-out.ts), so the next event
// this process fans out sees it.
import type { Clock } from '../../kernel/clock.ts';
import type { Precondition } from '../../kernel/crud.ts';
import { invalid, notFound, preconditionFailed } from '../../kernel/errors.ts';
import { isId, newId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { AnyDb, Storage } from '../../storage/database.ts';
import { patternProblem } from '../events/index.ts';
import type { UsersService } from '../users/index.ts';
import { endpointsChanged } from './fan-out.ts';
import * as repository from './repository.ts';
import type { EndpointFilters, WebhookEndpointCreate, WebhookEndpointPatch, WebhookEndpointRecord } from './schema.ts';
import { newWebhookSecret, type SecretBox, storedSecretBox } from './secrets.ts';
import { checkWebhookTarget, type TargetOptions } from './targets.ts';

/** An endpoint and its signing secret, in plain text this once. */
export interface IssuedEndpoint {
  endpoint: WebhookEndpointRecord;
  secret: string;
}

export interface WebhookEndpointsService {
  list(filters: EndpointFilters, page: PageRequest): Promise<PageResult<WebhookEndpointRecord>>;
  get(id: string): Promise<WebhookEndpointRecord>;
  create(ownerId: string, input: WebhookEndpointCreate): Promise<IssuedEndpoint>;
  patch(
    id: string,
    patch: WebhookEndpointPatch,
    precondition: Precondition<WebhookEndpointRecord>,
  ): Promise<WebhookEndpointRecord>;
  remove(id: string, precondition: Precondition<WebhookEndpointRecord>): Promise<void>;
  rotateSecret(id: string, precondition: Precondition<WebhookEndpointRecord>): Promise<IssuedEndpoint>;
  /**
   * The secrets a delivery is signed with now: the current one, then the previous one while its grace runs. Given
   * the version of the endpoint just read, the secrets opened for that version before are used again.
   */
  signingSecrets(id: string, version?: number): Promise<string[]>;
}

/** Opened secrets and the endpoint version they were read at. */
interface OpenedSecrets {
  version: number;
  current: string;
  previous: string | null;
  previousUntil: string | null;
}

const kind = 'webhook endpoint';
export const rotationGraceMs = 24 * 60 * 60 * 1000;
/** How many endpoints' opened secrets are kept; past that the longest kept is dropped. */
const keptSecrets = 1000;

export function webhookEndpointsService(
  storage: Storage,
  clock: Clock,
  options: { users: UsersService; targets: TargetOptions },
): WebhookEndpointsService {
  let box: Promise<SecretBox> | undefined;
  const secrets = (): Promise<SecretBox> => {
    box ??= storedSecretBox(storage);
    return box;
  };
  // Every delivery reads its endpoint first, and every change to an endpoint, its secrets included, bumps the
  // version: secrets kept for the version just read are the stored ones, whichever process changed them.
  const opened = new Map<string, OpenedSecrets>();

  async function openSecrets(id: string): Promise<OpenedSecrets> {
    const sealed = isId('whe', id) ? await repository.findEndpointSecrets(storage.db, id) : null;
    if (!sealed) throw notFound(kind, id);
    const box = await secrets();
    const found = {
      version: sealed.version,
      current: box.open(sealed.current, id),
      previous: sealed.previous === null ? null : box.open(sealed.previous, id),
      previousUntil: sealed.previousUntil,
    };
    opened.delete(id);
    opened.set(id, found);
    if (opened.size > keptSecrets) opened.delete(opened.keys().next().value as string);
    return found;
  }

  async function checkedUrl(url: string): Promise<string> {
    const check = await checkWebhookTarget(url, options.targets);
    if (!check.ok) throw invalid('url', 'INVALID_TARGET', `url ${check.reason}`);
    return check.url.href;
  }

  function checkPatterns(patterns: readonly string[]): void {
    for (const [index, pattern] of patterns.entries()) {
      const problem = patternProblem(pattern);
      if (problem) throw invalid(`events.${index}`, 'UNKNOWN_EVENT_TYPE', problem);
    }
  }

  async function current(
    trx: AnyDb,
    id: string,
    precondition: Precondition<WebhookEndpointRecord>,
  ): Promise<WebhookEndpointRecord> {
    const found = isId('whe', id) ? await repository.findEndpoint(trx, id) : null;
    if (!found) throw notFound(kind, id);
    if (!precondition(found)) throw preconditionFailed(kind);
    return found;
  }

  return {
    list: (filters, page) => repository.listEndpoints(storage.db, filters, page),

    async get(id) {
      const found = isId('whe', id) ? await repository.findEndpoint(storage.db, id) : null;
      if (!found) throw notFound(kind, id);
      return found;
    },

    async create(ownerId, input) {
      checkPatterns(input.events);
      const url = await checkedUrl(input.url);
      const [owner] = await options.users.getMany([ownerId]);
      if (!owner) throw invalid('ownerId', 'NOT_FOUND', `no user has the id '${ownerId}'.`);
      if (owner.status !== 'active') throw invalid('ownerId', 'INACTIVE', 'the owner must be an active user.');
      const at = clock();
      const endpoint: WebhookEndpointRecord = {
        id: newId('whe', at.getTime()),
        ownerId,
        url,
        events: input.events,
        description: input.description ?? null,
        enabled: input.enabled ?? true,
        disabledReason: null,
        failingSince: null,
        previousSecretUntil: null,
        version: 1,
        createdAt: at.toISOString(),
        updatedAt: at.toISOString(),
      };
      const secret = newWebhookSecret();
      const sealed = (await secrets()).seal(secret, endpoint.id);
      await repository.insertEndpoint(storage.db, endpoint, { current: sealed, previous: null, previousUntil: null });
      endpointsChanged(storage);
      return { endpoint, secret };
    },

    async patch(id, patch, precondition) {
      if (patch.events) checkPatterns(patch.events);
      const url = patch.url === undefined ? undefined : await checkedUrl(patch.url);
      const patched = await storage.db.transaction().execute(async (trx) => {
        const previous = await current(trx, id, precondition);
        const enabled = patch.enabled ?? previous.enabled;
        const next: WebhookEndpointRecord = {
          ...previous,
          url: url ?? previous.url,
          events: patch.events ?? previous.events,
          description: patch.description === undefined ? previous.description : patch.description,
          enabled,
          // Turning an endpoint back on starts it afresh: no reason to show, no run of failures to count on.
          disabledReason: enabled && !previous.enabled ? null : previous.disabledReason,
          failingSince: enabled && !previous.enabled ? null : previous.failingSince,
          version: previous.version + 1,
          updatedAt: clock().toISOString(),
        };
        if (!(await repository.updateEndpoint(trx, next, previous.version))) throw preconditionFailed(kind);
        return next;
      });
      endpointsChanged(storage);
      return patched;
    },

    async remove(id, precondition) {
      await storage.db.transaction().execute(async (trx) => {
        await current(trx, id, precondition);
        if (!(await repository.deleteEndpoint(trx, id))) throw notFound(kind, id);
      });
      endpointsChanged(storage);
      opened.delete(id);
    },

    async rotateSecret(id, precondition) {
      const box = await secrets();
      const rotated = await storage.db.transaction().execute(async (trx) => {
        const previous = await current(trx, id, precondition);
        const sealed = await repository.findEndpointSecrets(trx, id);
        if (!sealed) throw notFound(kind, id);
        const at = clock();
        const until = new Date(at.getTime() + rotationGraceMs).toISOString();
        const secret = newWebhookSecret();
        const next: WebhookEndpointRecord = {
          ...previous,
          previousSecretUntil: until,
          version: previous.version + 1,
          updatedAt: at.toISOString(),
        };
        // A second rotation within the grace period drops the oldest secret: only the last two ever sign.
        const written = await repository.updateEndpoint(trx, next, previous.version, {
          current: box.seal(secret, id),
          previous: sealed.current,
          previousUntil: until,
        });
        if (!written) throw preconditionFailed(kind);
        return { endpoint: next, secret };
      });
      endpointsChanged(storage);
      return rotated;
    },

    async signingSecrets(id, version) {
      const kept = opened.get(id);
      const isCurrent = version !== undefined && kept?.version === version;
      const { current, previous, previousUntil } = kept && isCurrent ? kept : await openSecrets(id);
      const inGrace = previous !== null && previousUntil !== null && clock().toISOString() < previousUntil;
      return inGrace ? [current, previous] : [current];
    },
  };
}
