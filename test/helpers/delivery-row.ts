/** One delivery row as an earlier release or an operator's SQL might have written it. */
export function deliveryRow(id: string, status: string, createdAt = new Date().toISOString()) {
  return {
    id,
    event_id: 'evt_raw',
    event_type: 'record.created',
    subscription_id: null,
    target: `cb:${id}`,
    url: 'https://receiver.example/hook',
    origin: 'https://receiver.example',
    auth: null,
    endpoint_id: 'ep_raw',
    environment: 'test',
    request_id: 'req_raw',
    record_id: 'rec_raw',
    status,
    attempts: 1,
    max_attempts: 1,
    interval_seconds: 60,
    // Far ahead: the worker never picks these up.
    next_attempt_at: '2999-01-01T00:00:00.000Z',
    last_status_code: null,
    last_error: null,
    created_at: createdAt,
    updated_at: createdAt,
  };
}
