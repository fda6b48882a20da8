// The orders module's errors: each names the field at fault (dotted, like the validator's: `items.0.quantity`)
// and says what to do next.
import { ApiError, type ErrorDetail } from '../../kernel/errors.ts';
import type { OrderRecord } from './schema.ts';
import { allowedActions, type OrderAction, transitions } from './state-machine.ts';

const line = (index: number, field: 'productId' | 'quantity') => `items.${index}.${field}`;

export const invalidOrder = (details: ErrorDetail[]): ApiError =>
  new ApiError(
    'VALIDATION_ERROR',
    `The order is not valid: ${details.map((detail) => detail.message).join(' ')}`.slice(0, 2000),
    { details },
  );

export const duplicateLine = (index: number, first: number): ErrorDetail => ({
  field: line(index, 'productId'),
  code: 'DUPLICATE',
  message: `items.${index} names the same product as items.${first}; put each product on one line with its total quantity.`,
});

export const unknownProduct = (index: number, id: string): ErrorDetail => ({
  field: line(index, 'productId'),
  code: 'UNKNOWN_PRODUCT',
  message: `items.${index}.productId '${id}' is not a product.`,
});

export const inactiveProduct = (index: number, id: string): ErrorDetail => ({
  field: line(index, 'productId'),
  code: 'PRODUCT_NOT_ACTIVE',
  message: `items.${index}.productId '${id}' is archived and cannot be ordered.`,
});

export const currencyMismatch = (index: number, currency: string, expected: string): ErrorDetail => ({
  field: line(index, 'productId'),
  code: 'CURRENCY_MISMATCH',
  message: `items.${index} is priced in ${currency} but items.0 in ${expected}; an order is paid in one currency.`,
});

export const amountTooLarge = (index: number): ErrorDetail => ({
  field: line(index, 'quantity'),
  code: 'AMOUNT_TOO_LARGE',
  message: `items.${index} brings the order above the largest amount an order may have; order less.`,
});

export const unknownCustomer = (id: string): ErrorDetail => ({
  field: 'customerId',
  code: 'UNKNOWN_CUSTOMER',
  message: `customerId '${id}' is not a user.`,
});

export const inactiveCustomer = (id: string): ErrorDetail => ({
  field: 'customerId',
  code: 'CUSTOMER_NOT_ACTIVE',
  message: `The user '${id}' is inactive and cannot place orders.`,
});

export const customerMismatch = (given: string, path: string): ApiError =>
  new ApiError('VALIDATION_ERROR', `The request is not valid: customerId '${given}' is not the user in the path.`, {
    details: [
      {
        field: 'customerId',
        code: 'CUSTOMER_MISMATCH',
        message: `customerId '${given}' differs from the user '${path}' the order is placed for; leave it out.`,
      },
    ],
  });

export const insufficientStock = (short: { index: number; productId: string; quantity: number }[]): ApiError =>
  new ApiError(
    'CONFLICT',
    'Not enough stock for every line of this order; nothing was ordered. Order less of the lines named, or retry later.',
    {
      details: short.map(({ index, productId, quantity }) => ({
        field: line(index, 'quantity'),
        code: 'INSUFFICIENT_STOCK',
        message: `The product '${productId}' has fewer than ${quantity} in stock, or is no longer active.`,
      })),
    },
  );

export function invalidTransition(order: OrderRecord, action: OrderAction): ApiError {
  const allowed = allowedActions(order.status);
  const next = allowed.length > 0 ? `allowed actions: ${allowed.join(', ')}` : 'no action is allowed any more';
  const message = `An order that is ${order.status} cannot be ${transitions[action].done}; ${next}.`;
  return new ApiError('INVALID_STATE_TRANSITION', message, {
    details: [{ field: 'status', code: 'TRANSITION_NOT_ALLOWED', message }],
  });
}

export const noTrackingYet = (order: OrderRecord): ApiError =>
  new ApiError(
    'RESOURCE_NOT_FOUND',
    `The order '${order.id}' is ${order.status}: tracking exists once an order has shipped.`,
  );

/** Another write changed the order between our read and our write, again and again; the client may retry. */
export const busyOrder = (id: string): ApiError =>
  new ApiError('CONFLICT', `The order '${id}' is being changed by other requests right now; read it again and retry.`);
