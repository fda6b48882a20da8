// The webhooks module's door: endpoints (routes, service), the delivery and attempt tables the delivery worker
// works on, the target and pattern checks it repeats at delivery, and the signing secrets; delivery itself: the bus
// consumer that fans events out, the worker that sends them, and the delivery log's routes.

export { eventTypes, matches, matchesAny, patternProblem } from '../events/index.ts';
export { representDelivery, webhookDeliveriesRoutes } from './deliveries-http.ts';
export { type DeliveriesService, deliveriesService } from './deliveries-service.ts';
export { installWebhookDelivery } from './delivery-runtime.ts';
export { WebhookDelivery } from './delivery-schema.ts';
export { type EnqueueDeliveries, enqueueDeliveries } from './fan-out.ts';
export { representWebhookEndpoint, webhookEndpointsPath, webhookEndpointsRoutes } from './http.ts';
export {
  createDeliveries,
  endpointsFor,
  findDelivery,
  findEndpoint,
  listDeliveries,
  updateDelivery,
  updateEndpoint,
} from './repository.ts';
export {
  type DeliveryStatus,
  type WebhookAttemptRecord,
  type WebhookDeliveryRecord,
  WebhookEndpoint,
  type WebhookEndpointRecord,
  type WebhookEvent,
} from './schema.ts';
export { newWebhookSecret, type SecretBox, storedSecretBox } from './secrets.ts';
export { type WebhookEndpointsService, webhookEndpointsService } from './service.ts';
export { signedHeaders } from './signing.ts';
export { checkWebhookTarget, isBlockedAddress, type TargetCheck, type TargetOptions } from './targets.ts';
export { type WebhookWorker, type WebhookWorkerOptions, webhookWorker } from './worker.ts';
