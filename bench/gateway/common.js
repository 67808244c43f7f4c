// What run.js and profile.js share: the event they send and how they read the gateway's /metrics.
'use strict';
const { randomUUID } = require('node:crypto');

/** A realistic Segment track event (~400 bytes as JSON) with a unique messageId. */
function trackEvent(i) {
  return {
    type: 'track',
    userId: `user-${i % 5000}`,
    event: 'Message Sent',
    messageId: randomUUID(),
    timestamp: new Date().toISOString(),
    properties: { featureId: 'messages', delta: 1, channel: 'email', recipients: 3, plan: 'pro' },
    context: { library: { name: 'analytics-node', version: '6.2.0' }, ip: '203.0.113.7', userAgent: 'node/20' },
    integrations: { All: true },
  };
}

/** The first sample of a metric (any labels) in Prometheus text, 0 when absent. */
function metricValue(text, name) {
  return Number((text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm')) ?? [])[1] ?? 0);
}

module.exports = { trackEvent, metricValue };
