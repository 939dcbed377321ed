// Service metrics (Prometheus). One registry per process: the HTTP service serves it on
// /metrics, the worker next to Temporal's own runtime metrics. Labels carry types and codes
// only — never account ids (unbounded) or anything personal.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'billing_process_' });

export const webhookEvents = new Counter({
  name: 'billing_webhook_events_total',
  help: 'Stripe webhook deliveries by event type and outcome',
  labelNames: ['type', 'outcome'] as const,
  registers: [registry],
});

export const webhookDuration = new Histogram({
  name: 'billing_webhook_duration_seconds',
  help: 'Time to verify, record and apply one Stripe webhook delivery',
  labelNames: ['outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const gateDecisions = new Counter({
  name: 'billing_gate_decisions_total',
  help: 'Gate checks by action and answer code',
  labelNames: ['action', 'code', 'allowed'] as const,
  registers: [registry],
});

export const ladderTransitions = new Counter({
  name: 'billing_ladder_transitions_total',
  help: 'Ladder transitions recorded by the worker, by rung and mode',
  labelNames: ['rung', 'dry_run'] as const,
  registers: [registry],
});

export const notificationOutcomes = new Counter({
  name: 'billing_notifications_total',
  help: 'Emails and Discord posts by channel and outcome',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});

export const reconciliationDrift = new Counter({
  name: 'billing_reconciliation_drift_total',
  help: 'Differences between Stripe and this service found (and healed) by reconciliation',
  labelNames: ['kind'] as const,
  registers: [registry],
});
