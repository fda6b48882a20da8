// The webhook_endpoints, webhook_deliveries and webhook_attempts tables: the only SQL that touches them. Secrets
// pass through here only as ciphertext (see secrets.ts).
import type { Generated, Kysely, Selectable } from 'kysely';
import { newId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import { allColumns } from '../../storage/columns.ts';
import { compiledOnce } from '../../storage/compiled-once.ts';
import type { AnyDb } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import { matchesAny } from '../events/index.ts';
import type {
  DeliveryStatus,
  EndpointFilters,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
  WebhookEvent,
} from './schema.ts';

export type WebhooksTables = {
  webhook_endpoints: {
    id: string;
    owner_id: string;
    url: string;
    events: string;
    description: string | null;
    enabled: number;
    secret_ciphertext: string;
    previous_secret_ciphertext: string | null;
    previous_secret_until: string | null;
    disabled_reason: string | null;
    failing_since: string | null;
    version: number;
    created_at: string;
    updated_at: string;
  };
  webhook_deliveries: {
    id: string;
    endpoint_id: string;
    event_id: string;
    event_type: string;
    payload: string;
    status: DeliveryStatus;
    attempts: number;
    next_attempt_at: string | null;
    last_attempt_at: string | null;
    created_at: string;
  };
  webhook_attempts: {
    position: Generated<number>;
    delivery_id: string;
    attempted_at: string;
    status_code: number | null;
    error: string | null;
    latency_ms: number;
    response_body: string | null;
  };
};
type EndpointRow = WebhooksTables['webhook_endpoints'];
type DeliveryRow = WebhooksTables['webhook_deliveries'];

const endpointColumnNames = allColumns<EndpointRow>({
  id: true,
  owner_id: true,
  url: true,
  events: true,
  description: true,
  enabled: true,
  secret_ciphertext: true,
  previous_secret_ciphertext: true,
  previous_secret_until: true,
  disabled_reason: true,
  failing_since: true,
  version: true,
  created_at: true,
  updated_at: true,
});
const deliveryColumnNames = allColumns<DeliveryRow>({
  id: true,
  endpoint_id: true,
  event_id: true,
  event_type: true,
  payload: true,
  status: true,
  attempts: true,
  next_attempt_at: true,
  last_attempt_at: true,
  created_at: true,
});
type AttemptRow = Selectable<WebhooksTables['webhook_attempts']>;
const attemptColumnNames = allColumns<AttemptRow>({
  position: true,
  delivery_id: true,
  attempted_at: true,
  status_code: true,
  error: true,
  latency_ms: true,
  response_body: true,
});

const tables = (db: AnyDb): Kysely<WebhooksTables> => db.withTables<WebhooksTables>();

/** The signing secrets of an endpoint, sealed; `previous` signs alongside `current` until `previousUntil`. */
export interface SealedSecrets {
  current: string;
  previous: string | null;
  previousUntil: string | null;
}

const toEndpoint = (row: EndpointRow): WebhookEndpointRecord => ({
  id: row.id,
  ownerId: row.owner_id,
  url: row.url,
  events: JSON.parse(row.events) as string[],
  description: row.description,
  enabled: Number(row.enabled) === 1,
  disabledReason: row.disabled_reason,
  failingSince: row.failing_since,
  previousSecretUntil: row.previous_secret_until,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const endpointColumns = (endpoint: WebhookEndpointRecord) => ({
  url: endpoint.url,
  events: JSON.stringify(endpoint.events),
  description: endpoint.description,
  enabled: endpoint.enabled ? 1 : 0,
  disabled_reason: endpoint.disabledReason,
  failing_since: endpoint.failingSince,
  version: endpoint.version,
  updated_at: endpoint.updatedAt,
});

const toDelivery = (row: DeliveryRow): WebhookDeliveryRecord => ({
  id: row.id,
  endpointId: row.endpoint_id,
  eventId: row.event_id,
  eventType: row.event_type,
  payload: JSON.parse(row.payload) as WebhookEvent,
  status: row.status,
  attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at,
  lastAttemptAt: row.last_attempt_at,
  createdAt: row.created_at,
});

const toAttempt = (row: AttemptRow): WebhookAttemptRecord => ({
  deliveryId: row.delivery_id,
  attemptedAt: row.attempted_at,
  statusCode: row.status_code === null ? null : Number(row.status_code),
  error: row.error,
  latencyMs: Number(row.latency_ms),
  responseBody: row.response_body,
});

export async function insertEndpoint(
  db: AnyDb,
  endpoint: WebhookEndpointRecord,
  secrets: SealedSecrets,
): Promise<void> {
  await tables(db)
    .insertInto('webhook_endpoints')
    .values({
      id: endpoint.id,
      owner_id: endpoint.ownerId,
      created_at: endpoint.createdAt,
      ...endpointColumns(endpoint),
      secret_ciphertext: secrets.current,
      previous_secret_ciphertext: secrets.previous,
      previous_secret_until: secrets.previousUntil,
    })
    .execute();
}

// The worker reads the endpoint before every attempt: compiled once, not built again per delivery.
const endpointById = compiledOnce((db, id: string) =>
  tables(db).selectFrom('webhook_endpoints').select(endpointColumnNames).where('id', '=', id),
);

export async function findEndpoint(db: AnyDb, id: string): Promise<WebhookEndpointRecord | null> {
  const [row] = await endpointById(db, id);
  return row ? toEndpoint(row) : null;
}

/** The endpoint's sealed secrets and the version of the endpoint they belong to. */
export async function findEndpointSecrets(
  db: AnyDb,
  id: string,
): Promise<(SealedSecrets & { version: number }) | null> {
  const row = await tables(db)
    .selectFrom('webhook_endpoints')
    .select(['secret_ciphertext', 'previous_secret_ciphertext', 'previous_secret_until', 'version'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row
    ? {
        current: row.secret_ciphertext,
        previous: row.previous_secret_ciphertext,
        previousUntil: row.previous_secret_until,
        version: Number(row.version),
      }
    : null;
}

export async function listEndpoints(
  db: AnyDb,
  filters: EndpointFilters,
  page: PageRequest,
): Promise<PageResult<WebhookEndpointRecord>> {
  let query = tables(db).selectFrom('webhook_endpoints').select(endpointColumnNames);
  if (filters.ownerId) query = query.where('owner_id', '=', filters.ownerId);
  if (filters.enabled !== undefined) query = query.where('enabled', '=', filters.enabled ? 1 : 0);
  const result = await paginate(query, page, 'created_at', (row) => row.created_at);
  return { ...result, items: result.items.map(toEndpoint) };
}

/** Writes the endpoint's fields (and, when given, new secrets) only if the stored version is `expectedVersion`. */
export async function updateEndpoint(
  db: AnyDb,
  endpoint: WebhookEndpointRecord,
  expectedVersion: number,
  secrets?: SealedSecrets,
): Promise<boolean> {
  const result = await tables(db)
    .updateTable('webhook_endpoints')
    .set({
      ...endpointColumns(endpoint),
      ...(secrets
        ? {
            secret_ciphertext: secrets.current,
            previous_secret_ciphertext: secrets.previous,
            previous_secret_until: secrets.previousUntil,
          }
        : {}),
    })
    .where('id', '=', endpoint.id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes the endpoint with its deliveries and their attempts. */
export async function deleteEndpoint(db: AnyDb, id: string): Promise<boolean> {
  // Children first: SQLite enforces the cascade only when foreign keys are switched on for the connection.
  const deliveries = tables(db).selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', id);
  await tables(db).deleteFrom('webhook_attempts').where('delivery_id', 'in', deliveries).execute();
  await tables(db).deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
  const result = await tables(db).deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Every enabled endpoint. */
export async function enabledEndpoints(db: AnyDb): Promise<WebhookEndpointRecord[]> {
  const rows = await tables(db)
    .selectFrom('webhook_endpoints')
    .select(endpointColumnNames)
    .where('enabled', '=', 1)
    .execute();
  return rows.map(toEndpoint);
}

/** The enabled endpoints subscribed to this event type, by exact type or pattern. */
export async function endpointsFor(db: AnyDb, eventType: string): Promise<WebhookEndpointRecord[]> {
  // Patterns are matched here rather than in SQL: endpoints are few, and one matcher serves validation too.
  return (await enabledEndpoints(db)).filter((endpoint) => matchesAny(endpoint.events, eventType));
}

/** An event and the endpoints it is to be delivered to. */
export interface FannedOut {
  event: WebhookEvent;
  endpoints: readonly WebhookEndpointRecord[];
}

/** Rows one insert carries at most: ten parameters a row stay within SQLite's 32,766 and PostgreSQL's 65,535. */
const rowsPerInsert = 1_000;

/**
 * One pending delivery of each event to each of its endpoints, due at `now`, written together: one statement and
 * one commit for many events, rather than one each (bench/README.md, webhook-fanout). Idempotent: an event fanned
 * out twice (the relay publishes at least once) keeps its first deliveries. Returns the deliveries made by this call.
 */
export async function createDeliveries(
  db: AnyDb,
  fannedOut: readonly FannedOut[],
  now: Date,
): Promise<WebhookDeliveryRecord[]> {
  const at = now.toISOString();
  const rows: DeliveryRow[] = [];
  for (const { event, endpoints } of fannedOut) {
    if (endpoints.length === 0) continue;
    // Every endpoint is sent the same bytes.
    const payload = JSON.stringify(event);
    for (const endpoint of endpoints) {
      rows.push({
        id: newId('whd', now.getTime()),
        endpoint_id: endpoint.id,
        event_id: event.id,
        event_type: event.type,
        payload,
        status: 'pending',
        attempts: 0,
        next_attempt_at: at,
        last_attempt_at: null,
        created_at: at,
      });
    }
  }
  if (rows.length === 0) return [];
  const insertAll = async (trx: AnyDb) => {
    const made = new Set<string>();
    for (let from = 0; from < rows.length; from += rowsPerInsert) {
      const inserted = await tables(trx)
        .insertInto('webhook_deliveries')
        .values(rows.slice(from, from + rowsPerInsert))
        .onConflict((conflict) => conflict.columns(['endpoint_id', 'event_id']).doNothing())
        .returning('id')
        .execute();
      for (const row of inserted) made.add(row.id);
    }
    return made;
  };
  const made =
    rows.length <= rowsPerInsert || db.isTransaction ? await insertAll(db) : await db.transaction().execute(insertAll);
  return rows.filter((row) => made.has(row.id)).map(toDelivery);
}

export async function findDelivery(db: AnyDb, id: string): Promise<WebhookDeliveryRecord | null> {
  const row = await tables(db)
    .selectFrom('webhook_deliveries')
    .select(deliveryColumnNames)
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toDelivery(row) : null;
}

export async function listDeliveries(
  db: AnyDb,
  filters: { endpointId: string; status?: DeliveryStatus },
  page: PageRequest,
): Promise<PageResult<WebhookDeliveryRecord>> {
  let query = tables(db)
    .selectFrom('webhook_deliveries')
    .select(deliveryColumnNames)
    .where('endpoint_id', '=', filters.endpointId);
  if (filters.status) query = query.where('status', '=', filters.status);
  const result = await paginate(query, page, 'created_at', (row) => row.created_at);
  return { ...result, items: result.items.map(toDelivery) };
}

/** Writes a delivery's status, attempt count and schedule. */
export async function updateDelivery(
  db: AnyDb,
  delivery: Pick<WebhookDeliveryRecord, 'id' | 'status' | 'attempts' | 'nextAttemptAt' | 'lastAttemptAt'>,
): Promise<void> {
  await tables(db)
    .updateTable('webhook_deliveries')
    .set({
      status: delivery.status,
      attempts: delivery.attempts,
      next_attempt_at: delivery.nextAttemptAt,
      last_attempt_at: delivery.lastAttemptAt,
    })
    .where('id', '=', delivery.id)
    .execute();
}

/** The attempts at each of these deliveries, oldest first, in one query. */
export async function attemptsOf(
  db: AnyDb,
  deliveryIds: readonly string[],
): Promise<Map<string, WebhookAttemptRecord[]>> {
  const byDelivery = new Map<string, WebhookAttemptRecord[]>(deliveryIds.map((id) => [id, []]));
  if (deliveryIds.length === 0) return byDelivery;
  const rows = await tables(db)
    .selectFrom('webhook_attempts')
    .select(attemptColumnNames)
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('position')
    .execute();
  for (const row of rows) byDelivery.get(row.delivery_id)?.push(toAttempt(row));
  return byDelivery;
}
