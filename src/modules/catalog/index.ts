// The catalog module's door: its service, its representation schema and its routes. Nothing else is imported from outside.

export { productsPath, productsRoutes, representProduct } from './http.ts';
export { insertProducts, type ReservedProduct, type StockLine } from './repository.ts';
export { Product, ProductCreate, ProductPatch, type ProductRecord } from './schema.ts';
export { buildProduct, type ProductsService, productsService, type StockKeeper } from './service.ts';
