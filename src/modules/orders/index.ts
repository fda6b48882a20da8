// The orders module's door: its service, its representation schema, its routes, and the pure order builders the
// seeder uses. Nothing else is imported from outside.

export { ordersPath, ordersRoutes, representOrder } from './http.ts';
export { insertOrders } from './repository.ts';
export { Order, type OrderRecord, type OrderStatus } from './schema.ts';
export { defaultCarrier, type OrdersService, ordersService } from './service.ts';
export {
  applyAction,
  buildOrder,
  type OrderAction,
  orderActions,
  type PricedLine,
  priceLines,
} from './state-machine.ts';
