import { describeZodError } from '@kana/platform';
import { adminApi } from '@kana/schemas';

const { featureInput, previewInput, ruleInput, rulePatch } = adminApi;

function errorOf(schema: { safeParse(value: unknown): { success: boolean; error?: unknown } }, value: unknown): string {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected a validation error');
  return describeZodError(result.error as never, 'rule');
}

const aRule = (overrides: Record<string, unknown> = {}) => ({ featureId: 'messages', eventName: 'Message Sent', ...overrides });

describe('rule validation', () => {
  it('accepts a rule without conditions and enables it by default', () => {
    expect(ruleInput.parse(aRule())).toEqual({ featureId: 'messages', eventName: 'Message Sent', conditions: [], enabled: true });
  });

  it('accepts a value typed to each operator', () => {
    const parsed = ruleInput.parse(
      aRule({
        conditions: [
          { property: 'plan', operator: 'eq', value: 'pro' },
          { property: 'plan.tier', operator: 'exists' },
          { property: 'region', operator: 'in', value: ['eu', 'us', 3] },
          { property: 'seats', operator: 'gte', value: '10' },
          { property: 'tags', operator: 'contains', value: 'beta' },
        ],
      }),
    );
    expect(parsed.conditions[1]).toEqual({ property: 'plan.tier', operator: 'exists' });
  });

  it.each([
    [{ featureId: 'bad id!' }, "field 'featureId'"],
    [{ eventName: '' }, "field 'eventName'"],
    [{ conditions: [{ property: '', operator: 'eq', value: 1 }] }, "field 'conditions.0.property'"],
    [{ conditions: [{ property: 'a..b', operator: 'eq', value: 1 }] }, "field 'conditions.0.property'"],
    [{ conditions: [{ property: 'a', operator: 'like', value: 1 }] }, "field 'conditions.0.operator'"],
    [{ conditions: [{ property: 'a', operator: 'exists', value: 1 }] }, 'takes no value'],
    [{ conditions: [{ property: 'a', operator: 'in', value: 'pro' }] }, 'needs a list'],
    [{ conditions: [{ property: 'a', operator: 'in', value: [] }] }, 'needs a list'],
    [{ conditions: [{ property: 'a', operator: 'in', value: [{ x: 1 }] }] }, 'strings, numbers or booleans'],
    [{ conditions: [{ property: 'a', operator: 'gt', value: 'abc' }] }, "field 'conditions.0.value': operator gt needs a number"],
    [{ conditions: [{ property: 'a', operator: 'lt', value: true }] }, 'operator lt needs a number'],
    [{ conditions: [{ property: 'a', operator: 'eq' }] }, 'operator eq needs a string'],
    [{ conditions: [{ property: 'a', operator: 'contains', value: 'x'.repeat(1025) }] }, 'at most 1024'],
    [{ conditions: Array.from({ length: 21 }, () => ({ property: 'a', operator: 'exists' })) }, 'at most 20 conditions'],
    [{ enabled: 'yes' }, "field 'enabled'"],
    [{ extra: 1 }, 'extra'],
  ])('rejects %j naming the field (%s)', (overrides, expected) => {
    expect(errorOf(ruleInput, aRule(overrides))).toContain(expected);
  });

  it('requires the feature and the event name', () => {
    expect(errorOf(ruleInput, { eventName: 'x' })).toContain("field 'featureId'");
    expect(errorOf(previewInput, { featureId: 'messages' })).toContain("field 'eventName'");
  });

  it('patches need at least one known field', () => {
    expect(errorOf(rulePatch, {})).toContain('at least one of');
    expect(rulePatch.parse({ enabled: false })).toEqual({ enabled: false });
  });

  it('validates features', () => {
    expect(featureInput.parse({ id: 'messages', name: ' Messages ' })).toEqual({ id: 'messages', name: 'Messages' });
    expect(errorOf(featureInput, { id: 'messages', name: '' })).toContain("field 'name'");
    expect(errorOf(featureInput, { id: '-x', name: 'X' })).toContain("field 'id'");
  });
});
