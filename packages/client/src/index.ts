export {
  Gatehouse,
  type GatehouseOptions,
  type GatehouseRecord,
  type ListParams,
  type Page,
  type Queued,
  Records,
  type WriteOptions,
} from './client.ts';
export * from './errors.ts';
export { verifyWebhook, type WebhookEvent, WebhookVerificationError } from './webhooks.ts';
