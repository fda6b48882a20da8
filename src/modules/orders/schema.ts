// Orders: the stored record, its v1 representation (with what `expand` may embed), and the bodies that create an
// order and ship it.
import { type Static, Type } from 'typebox';
import { CurrencyCode, Links, Money, Nullable, StringEnum, Timestamp } from '../../kernel/schemas.ts';

export const OrderStatus = StringEnum(['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'returned', 'refunded']);
export type OrderStatus = Static<typeof OrderStatus>;

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';

export const OrderId = Type.String({
  maxLength: 64,
  pattern: '^ord_[0-9a-z]{26}$',
  examples: ['ord_01jd2gq6f1e8x9v3k4m5n6p7q8'],
});
// References to other modules' resources carry no example id: one that names nothing would only mislead.
const CustomerId = Type.String({
  maxLength: 64,
  pattern: '^usr_[0-9a-z]{26}$',
  description: 'The id of the user who buys.',
});
const ProductId = Type.String({ maxLength: 64, pattern: '^prd_[0-9a-z]{26}$', description: 'The id of a product.' });

export const maxLines = 50;
export const maxQuantity = 1000;
const Quantity = Type.Integer({ minimum: 1, maximum: maxQuantity, format: 'int32', examples: [2] });

const Carrier = Type.String({ minLength: 1, maxLength: 100, pattern: noNul, examples: ['DHL'] });
const TrackingNumber = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$',
  examples: ['JD014600003828'],
});
export const Tracking = Type.Object(
  { carrier: Carrier, trackingNumber: TrackingNumber },
  { additionalProperties: false, description: 'Who carries the parcel and its number; null until shipped.' },
);

/** A moment the order reached, or null while it has not. */
const Reached = (what: string) => Nullable({ ...Timestamp, description: `When the order ${what}; null until then.` });

export const OrderItem = Type.Object(
  {
    productId: ProductId,
    productName: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: noNul,
      description: "The product's name when the order was placed.",
    }),
    quantity: Quantity,
    unitPrice: { ...Money, description: "The product's price when the order was placed." },
    lineTotal: { ...Money, description: 'unitPrice × quantity.' },
    product: Type.Optional(
      Nullable({ ...Type.Ref('Product'), description: 'With expand=items.product: the product as it is now.' }),
    ),
  },
  { additionalProperties: false },
);

export const Order = Type.Object(
  {
    id: OrderId,
    customerId: CustomerId,
    status: OrderStatus,
    items: Type.Array(OrderItem, { minItems: 1, maxItems: maxLines }),
    total: Money,
    currency: CurrencyCode,
    tracking: Nullable(Tracking),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    paidAt: Reached('was paid'),
    shippedAt: Reached('was shipped'),
    deliveredAt: Reached('was delivered'),
    cancelledAt: Reached('was cancelled'),
    returnedAt: Reached('came back'),
    refundedAt: Reached('was refunded (a paid order that is cancelled is refunded at once)'),
    customer: Type.Optional(
      Nullable({ ...Type.Ref('User'), description: 'With expand=customer: the customer; null if since deleted.' }),
    ),
    _links: Links,
  },
  {
    $id: 'Order',
    additionalProperties: false,
    description:
      'An order. `_links` offers exactly the actions its status allows, each followed with POST: pending → pay, ' +
      'cancel; paid → cancel, ship; shipped → deliver; delivered → return; returned → refund. `track` appears ' +
      'once the order has shipped.',
  },
);

export interface OrderItemRecord {
  productId: string;
  productName: string;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
}

export type TrackingInfo = Static<typeof Tracking>;

/** What the service stores and returns; the representation adds links. */
export interface OrderRecord {
  id: string;
  customerId: string;
  status: OrderStatus;
  items: OrderItemRecord[];
  total: Money;
  currency: string;
  tracking: TrackingInfo | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  paidAt: string | null;
  shippedAt: string | null;
  deliveredAt: string | null;
  cancelledAt: string | null;
  returnedAt: string | null;
  refundedAt: string | null;
}

const OrderLine = Type.Object({ productId: ProductId, quantity: Quantity }, { additionalProperties: false });
const lines = Type.Array(OrderLine, {
  minItems: 1,
  maxItems: maxLines,
  description: `1 to ${maxLines} lines, each product at most once, all priced in one currency.`,
});

export const OrderCreate = Type.Object(
  { customerId: CustomerId, items: lines },
  {
    additionalProperties: false,
    title: 'OrderCreate',
    description:
      'The customer must be an active user and every product active with enough stock; unit prices are taken ' +
      'from the catalog at this moment.',
  },
);
export type OrderCreate = Static<typeof OrderCreate>;

export const CustomerOrderCreate = Type.Object(
  {
    customerId: Type.Optional({ ...CustomerId, description: 'May be left out; if given, it must be the path’s id.' }),
    items: lines,
  },
  { additionalProperties: false, title: 'CustomerOrderCreate' },
);
export type CustomerOrderCreate = Static<typeof CustomerOrderCreate>;

export const OrderShipment = Type.Object(
  { carrier: Type.Optional(Carrier), trackingNumber: Type.Optional(TrackingNumber) },
  {
    additionalProperties: false,
    title: 'OrderShipment',
    description: 'Optional, and so is each field: a carrier and tracking number are assigned when left out.',
  },
);
export type OrderShipment = Static<typeof OrderShipment>;

export const OrderTracking = Type.Object(
  {
    carrier: Carrier,
    trackingNumber: TrackingNumber,
    status: OrderStatus,
    shippedAt: Timestamp,
    deliveredAt: Nullable(Timestamp),
    _links: Links,
  },
  { additionalProperties: false, title: 'OrderTracking' },
);

export const orderFilters = {
  status: Type.Optional(OrderStatus),
  customerId: Type.Optional(CustomerId),
};
export interface OrderFilters {
  status?: OrderStatus;
  customerId?: string;
  createdFrom?: string;
  createdTo?: string;
}

export const orderSortFields = ['createdAt', 'total'] as const;
