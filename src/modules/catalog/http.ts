// REST routes for products under /v1: the shared method contract, with the catalog's schemas, filters and scopes.
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { crudRoutes, type RestContext } from '../../transports/rest/crud-routes.ts';
import {
  Product,
  ProductCreate,
  ProductPatch,
  type ProductRecord,
  productFilters,
  productSortFields,
} from './schema.ts';
import type { ProductsService } from './service.ts';

export const productsPath = '/v1/products';

/** Field by field, as a rest spread costs several times more per read; the schema's type catches a field left out. */
export function representProduct(product: ProductRecord, publicUrl: string): Static<typeof Product> {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    category: product.category,
    price: product.price,
    stock: product.stock,
    status: product.status,
    createdAt: product.createdAt,
    updatedAt: product.updatedAt,
    _links: {
      self: { href: `${publicUrl}${productsPath}/${product.id}` },
      collection: { href: `${publicUrl}${productsPath}` },
    },
  };
}

export function productsRoutes(app: FastifyInstance, service: ProductsService, context: RestContext): void {
  crudRoutes(
    app,
    {
      kind: 'product',
      plural: 'products',
      path: productsPath,
      // The catalog is public: anyone may read it, with or without credentials (a publishable key, say).
      scopes: { read: 'public', write: 'products:write' },
      // The public catalog: shared caches may keep it briefly, then revalidate with the ETag.
      cacheControl: 'public, max-age=60, stale-while-revalidate=30',
      representation: Product,
      create: ProductCreate,
      patch: ProductPatch,
      filters: productFilters,
      sortFields: productSortFields,
      service,
      represent: (product) => representProduct(product, context.publicUrl),
    },
    context,
  );
}
