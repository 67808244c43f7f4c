import { counter, histogram, type Registry } from '@kana/platform';

/**
 * The gateway's own metrics. The coalesced batch size and the raw ack time are
 * recorded by the platform's producer (kana_producer_batch_messages,
 * kana_producer_ack_seconds); here is what only the gateway knows.
 */
export interface GatewayMetrics {
  requests: ReturnType<typeof counter<'method' | 'route' | 'status'>>;
  events: ReturnType<typeof counter<'type' | 'outcome'>>;
  produceSeconds: ReturnType<typeof histogram<'outcome'>>;
}

export function gatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    requests: counter(registry, {
      name: 'kana_gateway_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
    }),
    events: counter(registry, {
      name: 'kana_gateway_events_total',
      help: 'Events received, by type and outcome (accepted = stored in Kafka)',
      labelNames: ['type', 'outcome'],
    }),
    produceSeconds: histogram(registry, {
      name: 'kana_gateway_produce_seconds',
      help: 'Time to store the events of one request (encode + Kafka acks=all), by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
}

const KNOWN_TYPES = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias']);

/** A label value from client input, bounded so a sender cannot blow up the series count. */
export function typeLabel(raw: unknown): string {
  if (raw === null || typeof raw !== 'object') return 'invalid';
  const type = (raw as Record<string, unknown>).type;
  return typeof type === 'string' && KNOWN_TYPES.has(type.toLowerCase()) ? type.toLowerCase() : 'other';
}
