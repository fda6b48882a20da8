// Products: the stored record, its v1 representation, and the bodies that create, replace and patch it.
import { type Static, Type } from 'typebox';
import { CurrencyCode, Links, Money, Nullable, StringEnum, Timestamp } from '../../kernel/schemas.ts';

export const ProductStatus = StringEnum(['active', 'archived']);

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['Walnut desk'] });
const description = Nullable(Type.String({ maxLength: 5000, pattern: noNul, examples: ['Solid walnut, oiled.'] }));
const category = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
  examples: ['furniture'],
});
/** The most a product can hold in stock; stock given back by a cancelled order stops here too. */
export const maxStock = 1_000_000_000;
const stock = Type.Integer({ minimum: 0, maximum: maxStock, format: 'int64' });

export const Product = Type.Object(
  {
    id: Type.String({ maxLength: 64, pattern: '^prd_[0-9a-z]{26}$', examples: ['prd_01jd2gq6f1e8x9v3k4m5n6p7q8'] }),
    name,
    description,
    category,
    price: Money,
    stock,
    status: ProductStatus,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    _links: Links,
  },
  { $id: 'Product', additionalProperties: false },
);

export interface ProductRecord {
  id: string;
  name: string;
  description: string | null;
  category: string;
  price: Static<typeof Money>;
  stock: number;
  status: Static<typeof ProductStatus>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const ProductCreate = Type.Object(
  {
    name,
    description: Type.Optional(description),
    category,
    price: Money,
    stock: Type.Optional(stock),
    status: Type.Optional(ProductStatus),
  },
  {
    additionalProperties: false,
    title: 'ProductCreate',
    description: 'Also the body of PUT: what is left out takes its default (description null, stock 0, status active).',
  },
);
export type ProductCreate = Static<typeof ProductCreate>;

export const ProductPatch = Type.Object(
  {
    name: Type.Optional(name),
    description: Type.Optional(description),
    category: Type.Optional(category),
    price: Type.Optional(Type.Partial(Money, { additionalProperties: false })),
    stock: Type.Optional(stock),
    status: Type.Optional(ProductStatus),
  },
  { additionalProperties: false, title: 'ProductPatch' },
);
export type ProductPatch = Static<typeof ProductPatch>;

const amount = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, format: 'int64', description }));
export const productFilters = {
  category: Type.Optional(category),
  status: Type.Optional(ProductStatus),
  currency: Type.Optional(CurrencyCode),
  priceMin: amount('Inclusive lower bound on price.amount, in minor units.'),
  priceMax: amount('Inclusive upper bound on price.amount, in minor units.'),
};
export interface ProductFilters {
  category?: string;
  status?: ProductRecord['status'];
  currency?: string;
  priceMin?: number;
  priceMax?: number;
  createdFrom?: string;
  createdTo?: string;
}

export const productSortFields = ['createdAt', 'updatedAt', 'name', 'price', 'stock'] as const;
