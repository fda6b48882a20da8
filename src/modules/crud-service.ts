// The write path every simple resource shares: a change, its precondition, its version bump and its events
// commit in one transaction (STYLE §5), and a write that lost a race answers 412 instead of overwriting.
import type { Clock } from '../kernel/clock.ts';
import type { CrudService, Precondition, Versioned } from '../kernel/crud.ts';
import { type ApiError, atItem, notFound, preconditionFailed } from '../kernel/errors.ts';
import { type IdPrefix, isId, newId } from '../kernel/ids.ts';
import { applyMergePatch, type Json } from '../kernel/merge-patch.ts';
import type { PageRequest, PageResult } from '../kernel/pagination.ts';
import type { AnyDb, Storage } from '../storage/database.ts';
import { appendEvent, type DomainEvent } from '../storage/outbox.ts';

export interface CrudRepository<R, Filters> {
  list(db: AnyDb, filters: Filters, page: PageRequest): Promise<PageResult<R>>;
  find(db: AnyDb, id: string): Promise<R | null>;
  findMany(db: AnyDb, ids: string[]): Promise<R[]>;
  insert(db: AnyDb, record: R): Promise<void>;
  update(db: AnyDb, record: R, expectedVersion: number): Promise<boolean>;
  remove(db: AnyDb, id: string, expectedVersion: number): Promise<boolean>;
}

export interface Identity {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface CrudRules<R extends Versioned, Create> {
  kind: string;
  prefix: IdPrefix;
  /** The stored record for a full body; `identity` carries what the body cannot set. */
  build(input: Create, identity: Identity): R;
  /** The record as a full body again: what a merge patch applies to. */
  toInput(record: R): Create;
  /** Rules beyond the schema; throws a VALIDATION_ERROR. */
  check?(record: R): void;
  /** A unique violation from the database, as the conflict a client understands. */
  conflict?(error: unknown): ApiError | null;
  created(record: R, at: Date): DomainEvent[];
  updated(record: R, previous: R, at: Date): DomainEvent[];
  deleted(record: R, at: Date): DomainEvent[];
}

export function crudService<R extends Versioned & { createdAt: string }, Create, Patch, Filters>(
  storage: Storage,
  repository: CrudRepository<R, Filters>,
  rules: CrudRules<R, Create>,
  clock: Clock,
): CrudService<R, Create, Patch, Filters> {
  const { kind, prefix } = rules;

  async function inTransaction<T>(work: (trx: AnyDb) => Promise<T>): Promise<T> {
    try {
      return await storage.db.transaction().execute(work);
    } catch (error) {
      throw rules.conflict?.(error) ?? error;
    }
  }

  async function current(trx: AnyDb, id: string, precondition: Precondition<R>): Promise<R> {
    const found = isId(prefix, id) ? await repository.find(trx, id) : null;
    if (!found) throw notFound(kind, id);
    if (!precondition(found)) throw preconditionFailed(kind);
    return found;
  }

  async function write(id: string, precondition: Precondition<R>, next: (previous: R) => Create): Promise<R> {
    return inTransaction(async (trx) => {
      const previous = await current(trx, id, precondition);
      const at = clock();
      const record = rules.build(next(previous), {
        id,
        version: previous.version + 1,
        createdAt: previous.createdAt,
        updatedAt: at.toISOString(),
      });
      rules.check?.(record);
      if (!(await repository.update(trx, record, previous.version))) throw preconditionFailed(kind);
      for (const event of rules.updated(record, previous, at)) await appendEvent(trx, event);
      return record;
    });
  }

  /** One transaction for all: a batch is created whole or not at all. */
  function createAll(inputs: Create[], isBatch: boolean): Promise<R[]> {
    return inTransaction(async (trx) => {
      const at = clock();
      const stamp = at.toISOString();
      const records: R[] = [];
      for (const [index, input] of inputs.entries()) {
        try {
          const record = rules.build(input, {
            id: newId(prefix, at.getTime()),
            version: 1,
            createdAt: stamp,
            updatedAt: stamp,
          });
          rules.check?.(record);
          await repository.insert(trx, record);
          records.push(record);
        } catch (error) {
          const mapped = rules.conflict?.(error) ?? error;
          throw isBatch ? atItem(index, mapped) : mapped;
        }
      }
      for (const record of records) for (const event of rules.created(record, at)) await appendEvent(trx, event);
      return records;
    });
  }

  return {
    list: (filters, page) => repository.list(storage.db, filters, page),

    getMany: (ids) => {
      const wellFormed = ids.filter((id) => isId(prefix, id));
      return wellFormed.length > 0 ? repository.findMany(storage.db, wellFormed) : Promise.resolve([]);
    },

    async get(id) {
      const found = isId(prefix, id) ? await repository.find(storage.db, id) : null;
      if (!found) throw notFound(kind, id);
      return found;
    },

    async create(input) {
      const [record] = await createAll([input], false);
      return record as R;
    },

    createMany: (inputs) => createAll(inputs, true),

    replace: (id, input, precondition) => write(id, precondition, () => input),

    patch: (id, patch, precondition) =>
      write(id, precondition, (previous) => applyMergePatch(rules.toInput(previous) as Json, patch as Json) as Create),

    async remove(id, precondition) {
      await inTransaction(async (trx) => {
        const previous = await current(trx, id, precondition);
        if (!(await repository.remove(trx, id, previous.version))) throw preconditionFailed(kind);
        for (const event of rules.deleted(previous, clock())) await appendEvent(trx, event);
      });
    },
  };
}
