// Integration and end-to-end tests wait on real servers (a consumer group
// joining, a broker restart): give them room; each wait names what it waited for.
jest.setTimeout(Number(process.env.KANA_TEST_TIMEOUT_MS ?? 180_000));
