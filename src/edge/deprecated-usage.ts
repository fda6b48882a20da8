// Who still calls deprecated API versions, per credential, so an operator can tell them before the sunset. Calls
// are added up in memory and written in one upsert per caller a second later (or when read), so a v1 request costs
// no write of its own; every process adds its own counts to the same rows.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Clock } from '../kernel/clock.ts';
import { Timestamp } from '../kernel/schemas.ts';
import { allColumns } from '../storage/columns.ts';
import type { Storage } from '../storage/database.ts';
import { errorResponses } from '../transports/rest/error-responses.ts';
import type { ApiVersion, DeprecatedCalls } from './versioning.ts';

type CallsTable = {
  deprecated_calls: {
    version: string;
    caller: string;
    user_id: string | null;
    calls: number;
    last_called_at: string | Date;
  };
};

type CallRow = CallsTable['deprecated_calls'];

const callColumns = allColumns<CallRow>({
  version: true,
  caller: true,
  user_id: true,
  calls: true,
  last_called_at: true,
});

export interface DeprecatedUsage {
  version: string;
  /** `api-key:key_…`, `oauth-client:<client id>`, `jwt:<jti>`, `session:…`, or `anonymous`. */
  caller: string;
  userId: string | null;
  calls: number;
  lastCalledAt: string;
}

export interface DeprecatedCallCounter extends DeprecatedCalls {
  /** Every caller's count (or the `limit` busiest), most calls first, with what is still in memory written first. */
  list(limit?: number): Promise<DeprecatedUsage[]>;
  flush(): Promise<void>;
}

const flushDelayMs = 1000;

export function deprecatedCallCounter(storage: Storage, clock: Clock): DeprecatedCallCounter {
  const db = storage.db.withTables<CallsTable>();
  let pending = new Map<string, { version: string; caller: string; userId: string | null; calls: number; at: Date }>();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  async function write(): Promise<void> {
    const batch = [...pending.values()];
    pending = new Map();
    for (const entry of batch) {
      await db
        .insertInto('deprecated_calls')
        .values({
          version: entry.version,
          caller: entry.caller,
          user_id: entry.userId,
          calls: entry.calls,
          last_called_at: entry.at.toISOString(),
        })
        .onConflict((conflict) =>
          conflict.columns(['version', 'caller']).doUpdateSet({
            calls: sql<number>`deprecated_calls.calls + excluded.calls`,
            last_called_at: sql<string>`excluded.last_called_at`,
            user_id: sql<string | null>`excluded.user_id`,
          }),
        )
        .execute();
    }
  }

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    writing = writing.then(write, write);
    return writing;
  };

  return {
    record(version: ApiVersion, request: FastifyRequest) {
      const principal = request.principal;
      // An OAuth token is short-lived: the client it was issued to is who an operator can tell.
      const caller = !principal
        ? 'anonymous'
        : principal.clientId
          ? `oauth-client:${principal.clientId}`
          : `${principal.method}:${principal.credentialId}`;
      const key = `${version} ${caller}`;
      const entry = pending.get(key);
      if (entry) {
        entry.calls += 1;
        entry.at = clock();
      } else {
        pending.set(key, { version, caller, userId: principal?.userId ?? null, calls: 1, at: clock() });
      }
      if (!timer) {
        timer = setTimeout(() => {
          flush().catch((error) => request.log.warn({ err: error }, 'Counting deprecated calls failed.'));
        }, flushDelayMs);
        timer.unref();
      }
    },
    flush,
    async list(limit) {
      await flush();
      const rows = await db
        .selectFrom('deprecated_calls')
        .select(callColumns)
        .orderBy('calls', 'desc')
        .orderBy('caller')
        .$if(limit !== undefined, (query) => query.limit(limit ?? 0))
        .execute();
      return rows.map((row) => ({
        version: row.version,
        caller: row.caller,
        userId: row.user_id,
        calls: Number(row.calls),
        lastCalledAt: new Date(row.last_called_at).toISOString(),
      }));
    },
  };
}

const Usage = Type.Object(
  {
    version: Type.String({ maxLength: 8 }),
    caller: Type.String({ maxLength: 300 }),
    userId: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    calls: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, format: 'int64' }),
    lastCalledAt: Timestamp,
  },
  { additionalProperties: false },
);

/** `GET /v1/deprecated-usage`: who still calls deprecated versions; for admins (scope `api-usage:read`). */
export function deprecatedUsageRoutes(app: FastifyInstance, counter: DeprecatedCallCounter): void {
  app.get(
    '/v1/deprecated-usage',
    {
      config: { scope: 'api-usage:read' },
      schema: {
        operationId: 'listDeprecatedUsage',
        summary: 'Who still calls deprecated API versions',
        description:
          'Calls to deprecated versions (v1), counted per credential: an API key, an OAuth client, a session. For ' +
          'operators, to tell callers before the version is switched off.',
        tags: ['API usage'],
        response: {
          200: Type.Object({ data: Type.Array(Usage, { maxItems: 10000 }) }, { additionalProperties: false }),
          ...errorResponses(),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return { data: await counter.list() };
    },
  );
  app.addHook('onClose', () => counter.flush());
}
