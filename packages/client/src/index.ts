export {
  type Account,
  type CallOptions,
  Gatehouse,
  type GatehouseOptions,
  type GatehouseRecord,
  type ListParams,
  type Page,
  type Queued,
  Records,
  type UsageWindow,
  type WriteOptions,
} from './client.js';
export * from './errors.js';
export { verifyWebhook, type WebhookEvent, WebhookVerificationError } from './webhooks.js';
