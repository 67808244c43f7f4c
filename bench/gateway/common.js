// What run.js and profile.js share: the event they send, how they read the gateway's /metrics, and
// the CPU a process (the gateway, autocannon, the broker; Postgres backends for bench/reprocess/statement-cpu.js) has used.
'use strict';
const { randomUUID } = require('node:crypto');
const fs = require('node:fs');
const { join } = require('node:path');

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

/** User + system CPU seconds of a /proc `stat` line (the command name in parentheses may hold spaces). */
function statCpuSeconds(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when it cannot be read. */
function cpuSeconds(pid) {
  try {
    return statCpuSeconds(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) of each of a process's threads, by thread name ("main", "node" for worker threads, "libuv-worker", ...). */
function threadCpuSeconds(pid) {
  const byName = {};
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Node's worker threads share the main thread's name: tell the main thread by its id.
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      byName[name] = (byName[name] ?? 0) + statCpuSeconds(stat);
    }
  } catch {
    // The process exited.
  }
  return byName;
}

/** The local Kafka broker's pid (the java process whose arguments name the stack's kafka directory). */
function brokerPid() {
  const stackDir = process.env.KANA_STACK_DIR ?? join(__dirname, '..', '..', '.stack');
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (args.startsWith('java') && args.includes(join(stackDir, 'kafka')) && args.includes('kafka.Kafka')) return Number(pid);
    } catch {}
  }
  return undefined;
}

module.exports = { brokerPid, cpuSeconds, threadCpuSeconds, trackEvent, metricValue };
