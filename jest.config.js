// Two projects: `unit` runs pure logic in milliseconds; `integration` talks to the
// real Kafka, Postgres, Redis and registry started by scripts/stack.sh.
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // fastify's inject() pulls in ESM-only packages (cookie 2); jest's CommonJS runtime needs them transformed.
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/)?(cookie|light-my-request)[@/])'],
  moduleNameMapper: {
    '^@kana/schemas$': '<rootDir>/packages/schemas/src/index.ts',
    '^@kana/platform$': '<rootDir>/packages/platform/src/index.ts',
    '^@kana/platform/testing$': '<rootDir>/packages/platform/src/testing/index.ts',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/**/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: [...shared.testPathIgnorePatterns, '\\.integration\\.test\\.ts$', '\\.e2e\\.test\\.ts$'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/**/*.integration.test.ts'], setupFilesAfterEnv: ['<rootDir>/test/setup-slow.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/**/*.e2e.test.ts'], setupFilesAfterEnv: ['<rootDir>/test/setup-slow.ts'] },
  ],
};
