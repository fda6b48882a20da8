// The shape of a resource service that the REST transport can drive: list, get, create, replace, patch, remove.
import type { PageRequest, PageResult } from './pagination.ts';

export interface Versioned {
  id: string;
  /** Bumped on every write; the resource's ETag derives from it. */
  version: number;
}

/** A check on the stored resource, made inside the write's transaction (If-Match, RFC 9110 §13.1.1). */
export type Precondition<R> = (current: R) => boolean;

export interface CrudService<R extends Versioned, Create, Patch, Filters> {
  list(filters: Filters, page: PageRequest): Promise<PageResult<R>>;
  get(id: string): Promise<R>;
  /** The records among `ids` that exist, in one query; for batched expansion. */
  getMany(ids: string[]): Promise<R[]>;
  create(input: Create): Promise<R>;
  /** Creates all or none: the first item that fails stops the batch, named by its index. */
  createMany(inputs: Create[]): Promise<R[]>;
  replace(id: string, input: Create, precondition: Precondition<R>): Promise<R>;
  patch(id: string, patch: Patch, precondition: Precondition<R>): Promise<R>;
  remove(id: string, precondition: Precondition<R>): Promise<void>;
}
