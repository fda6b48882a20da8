// Expansion (`?expand=customer,items.product`): references in a page are replaced by the resources they name,
// loaded in one batch per path whatever the page size, so a page of 100 orders costs a constant number of queries.
import { Type } from 'typebox';
import { invalid } from '../../kernel/errors.ts';
import type { Principal } from '../../modules/identity/principal.ts';

export const maxExpandDepth = 2;

type Representation = Record<string, unknown>;

export interface Expansion {
  /** Dotted path to a reference: `customer` reads `customerId`; `items.product` reads each item's `productId`. */
  path: string;
  /** Representations by id for every id asked, in one call. Ids that are gone are left out and expand to null. */
  load(ids: string[]): Promise<Map<string, Representation>>;
  /**
   * Whether a customer may see what was loaded (access.ts); what they may not see expands to null, as a resource
   * that is gone does. Everything, when absent.
   */
  visibleTo?(customer: Principal, loaded: Representation): boolean;
}

export const expandParameter = Type.String({
  maxLength: 200,
  pattern: '^[a-zA-Z.]+(,[a-zA-Z.]+)*$',
  description: 'Comma list of references to replace by the resources they name, at most two levels deep.',
});

export function parseExpand(expand: string | undefined, expansions: readonly Expansion[]): Expansion[] {
  if (expand === undefined) return [];
  const known = expansions.map((expansion) => expansion.path);
  const requested = [...new Set(expand.split(','))];
  for (const path of requested) {
    if (path.split('.').length > maxExpandDepth) {
      throw invalid('expand', 'TOO_DEEP', `expand '${path}' is deeper than ${maxExpandDepth} levels.`);
    }
    if (!known.includes(path)) {
      const offer = known.length > 0 ? `it can expand ${known.join(', ')}` : 'it has nothing to expand';
      throw invalid(
        'expand',
        'UNKNOWN_EXPANSION',
        `expand names '${path}', which this resource cannot expand; ${offer}.`,
      );
    }
  }
  return expansions.filter((expansion) => requested.includes(expansion.path));
}

/** The objects that hold a path's reference: the representation itself, or each element of an array field. */
function holders(representation: Representation, path: string): Representation[] {
  const segments = path.split('.');
  let current: Representation[] = [representation];
  for (const segment of segments.slice(0, -1)) {
    current = current.flatMap((holder) => {
      const value = holder[segment];
      if (Array.isArray(value)) return value as Representation[];
      return value && typeof value === 'object' ? [value as Representation] : [];
    });
  }
  return current;
}

/** Expands in place; `customer` is the caller when access policies narrow what it may see. */
export async function expandAll(
  representations: Representation[],
  expansions: Expansion[],
  customer: Principal | null,
): Promise<void> {
  await Promise.all(
    expansions.map(async (expansion) => {
      const name = expansion.path.split('.').at(-1) ?? expansion.path;
      const idField = `${name}Id`;
      const targets = representations.flatMap((representation) => holders(representation, expansion.path));
      const ids = [
        ...new Set(targets.map((target) => target[idField]).filter((id): id is string => typeof id === 'string')),
      ];
      const loaded = ids.length > 0 ? await expansion.load(ids) : new Map<string, Representation>();
      for (const target of targets) {
        const id = target[idField];
        const found = typeof id === 'string' ? (loaded.get(id) ?? null) : null;
        const hidden = found !== null && customer !== null && expansion.visibleTo?.(customer, found) === false;
        target[name] = hidden ? null : found;
      }
    }),
  );
}

/** Top-level keys an expansion adds, which a sparse fieldset keeps. */
export const expandedKeys = (expansions: Expansion[]): string[] => [
  ...new Set(expansions.map((expansion) => expansion.path.split('.')[0] ?? expansion.path)),
];
