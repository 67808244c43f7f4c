import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';

export { Registry };

/** One registry per service process, with the Node.js default metrics and a `service` label. */
export function createMetrics(service: string, options: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

// Components may be built more than once per registry (tests, several consumers
// in one service); they share the metric instead of failing on re-registration.
export function counter<T extends string>(registry: Registry, config: Omit<CounterConfiguration<T>, 'registers'>): Counter<T> {
  const existing = registry.getSingleMetric(config.name);
  return (existing as Counter<T> | undefined) ?? new Counter({ ...config, registers: [registry] });
}

export function histogram<T extends string>(registry: Registry, config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T> {
  const existing = registry.getSingleMetric(config.name);
  return (existing as Histogram<T> | undefined) ?? new Histogram({ ...config, registers: [registry] });
}

export function gauge<T extends string>(registry: Registry, config: Omit<GaugeConfiguration<T>, 'registers'>): Gauge<T> {
  const existing = registry.getSingleMetric(config.name);
  return (existing as Gauge<T> | undefined) ?? new Gauge({ ...config, registers: [registry] });
}
