import { matchesCondition, namedFeatureId, type Condition } from '@kana/schemas';

// Condition semantics live in packages/schemas (match.ts), shared with usage:
// the preview and the choice of events to reprocess must agree with what usage decides.

export interface MatchableRule {
  eventName: string;
  conditions: readonly Condition[];
}

/**
 * Whether a rule maps an event, as usage decides it: same event name, every
 * condition holds, and the event does not name its feature itself (usage never
 * consults rules for an event with properties.featureId).
 */
export function ruleMatches(rule: MatchableRule, event: { event: string; properties: Record<string, unknown> }): boolean {
  if (namedFeatureId(event.properties) !== undefined) return false;
  return rule.eventName === event.event && rule.conditions.every((condition) => matchesCondition(event.properties, condition));
}
