import { z } from 'zod';
import { OPERATORS, featureIdSchema, type Condition } from '@kana/schemas';
import { asNumber } from '@kana/schemas';

// What an account may send when it creates or changes features and rules. The
// value is typed to the operator here, so usage never sees a rule it cannot
// evaluate (e.g. `gt` against "abc", or `in` without a list).

export const MAX_CONDITIONS = 20;
export const MAX_IN_VALUES = 100;
export const MAX_STRING_VALUE = 1024;

const propertyPath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^.]+(\.[^.]+)*$/, 'a dot path into properties, like "plan" or "plan.tier" (no empty segments)');

const scalarValue = z.union([z.string().max(MAX_STRING_VALUE), z.number().finite(), z.boolean()]);

const conditionInput = z
  .object({
    property: propertyPath,
    operator: z.enum(OPERATORS, { error: `one of ${OPERATORS.join(', ')}` }),
    value: z.unknown().optional(),
  })
  .strict()
  .superRefine((condition, ctx) => {
    const problem = valueProblem(condition.operator, condition.value);
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  })
  .transform((condition): Condition => (condition.value === undefined ? { property: condition.property, operator: condition.operator } : (condition as Condition)));

function valueProblem(operator: (typeof OPERATORS)[number], value: unknown): string | undefined {
  switch (operator) {
    case 'exists':
    case 'not_exists':
      return value === undefined ? undefined : `operator ${operator} takes no value; omit it`;
    case 'eq':
    case 'neq':
    case 'contains':
      return scalarValue.safeParse(value).success ? undefined : `operator ${operator} needs a string (at most ${MAX_STRING_VALUE} characters), number or boolean`;
    case 'in':
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) return `operator in needs a list of 1 to ${MAX_IN_VALUES} values`;
      return value.every((item) => scalarValue.safeParse(item).success) ? undefined : 'operator in takes strings, numbers or booleans only';
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value !== 'boolean' && asNumber(value) !== undefined ? undefined : `operator ${operator} needs a number or a numeric string`;
  }
}

const conditions = z.array(conditionInput).max(MAX_CONDITIONS, `at most ${MAX_CONDITIONS} conditions`);
const eventName = z.string().min(1).max(512);

export const featureInput = z.object({ id: featureIdSchema, name: z.string().trim().min(1).max(200) }).strict();
export type FeatureInput = z.infer<typeof featureInput>;

export const ruleInput = z
  .object({ featureId: featureIdSchema, eventName, conditions: conditions.default([]), enabled: z.boolean().default(true) })
  .strict();
export type RuleInput = z.infer<typeof ruleInput>;

/** The draft of POST /v1/rules/preview: what would be saved, never `enabled`. */
export const previewInput = z.object({ featureId: featureIdSchema, eventName, conditions: conditions.default([]) }).strict();
export type PreviewInput = z.infer<typeof previewInput>;

export const rulePatch = z
  .object({ featureId: featureIdSchema, eventName, conditions, enabled: z.boolean() })
  .partial()
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one of featureId, eventName, conditions, enabled');
export type RulePatch = z.infer<typeof rulePatch>;
