import { createPool, migrate, type Pool } from '../pg';
import { STACK, dropSchema, testEnv, uniqueId } from './env';

/**
 * A Postgres schema of the test file's own: created and migrated from `dir`
 * before its tests, dropped after them (jest's beforeAll / afterAll, so call
 * it inside a describe or at the top of the file). `pool` is there inside the
 * tests.
 */
export function migratedSchema(service: string, dir: string, name: string, options: { max?: number } = {}): { readonly pool: Pool } {
  const schema = testEnv(service, uniqueId(name)).DATABASE_SCHEMA!;
  let pool: Pool | undefined;
  beforeAll(async () => {
    pool = createPool({ url: STACK.DATABASE_URL, schema, ...options });
    await migrate(pool, { schema, dir });
  });
  afterAll(async () => {
    await pool?.end();
    await dropSchema(schema);
  });
  return {
    get pool(): Pool {
      if (!pool) throw new Error('the schema is migrated before the tests, not when the file loads');
      return pool;
    },
  };
}
