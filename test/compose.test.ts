import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';

// Checks docker-compose.yml without Docker: it must be a valid Compose file and keep the
// production shape the services rely on (health-ordered start, one public port, scalable usage).
//
// test/fixtures/compose-spec.json is schema/compose-spec.json of github.com/compose-spec/compose-spec
// at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (the file last changed in
// 08f8d51631b7127ddac3d2c65537db429d0f1d0, 2025-10-28), copied unchanged.

const root = join(__dirname, '..');

type Service = {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  ports?: unknown[];
  container_name?: string;
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: string[] | Record<string, string | number | boolean | null>;
  command?: unknown;
};
type ComposeFile = { services: Record<string, Service> };

const INFRA = ['kafka', 'schema-registry', 'postgres', 'redis'];
const APPS = ['gateway', 'identity', 'usage', 'rules'];
const SETUP = 'kana-setup';

/** Environment each service's config reads without a usable default (CONTRIBUTING.md, config.ts). */
const COMMON_ENV = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL', 'PORT'];
const REQUIRED_ENV: Record<string, string[]> = {
  // The gateway keeps nothing in Redis: its config has no REDIS_URL.
  gateway: [...COMMON_ENV, 'IDENTITY_URL', 'USAGE_URL', 'RULES_URL'],
  identity: [...COMMON_ENV, 'REDIS_URL'],
  usage: [...COMMON_ENV, 'REDIS_URL', 'RULES_URL'],
  rules: [...COMMON_ENV, 'REDIS_URL'],
};
const PORTS: Record<string, number> = { gateway: 8080, identity: 8091, usage: 8092, rules: 8093 };
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

function loadCompose(): ComposeFile {
  // merge: true resolves `<<: *anchor` merge keys the way Docker Compose does.
  return parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value == null ? '' : String(value)]));
}

function dependencies(service: Service): Array<[string, string | undefined]> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return deps.map((name) => [name, undefined]);
  return Object.entries(deps).map(([name, spec]) => [name, spec?.condition]);
}

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const services = compose.services ?? {};

  it('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'compose-spec.json'), 'utf8'));
    // The schema names https://json-schema.org/draft-07/schema, which ajv only knows as
    // http://json-schema.org/draft-07/schema#: drop the pointer and skip meta-validation.
    // strict: false tolerates its annotations (e.g. "deprecated"); formats are not checked
    // because ajv-formats is not installed.
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(valid ? [] : ajv.errorsText(validate.errors, { separator: '\n' }).split('\n')).toEqual([]);
  });

  it('has the infrastructure, the four services and the setup job', () => {
    expect(Object.keys(services).sort()).toEqual(expect.arrayContaining([...INFRA, ...APPS, SETUP].sort()));
  });

  it('uses the versions the local stack runs', () => {
    expect(services.kafka?.image).toBe('apache/kafka:4.1.1');
    expect(services.postgres?.image).toMatch(/^postgres:16/);
    expect(services.redis?.image).toMatch(/^redis:7/);
    expect(envOf(services.kafka ?? {})).toMatchObject({
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    });
  });

  it.each([...INFRA, ...APPS])('%s has a health check', (name) => {
    const check = services[name]?.healthcheck;
    expect(check?.disable).not.toBe(true);
    expect(check?.test).toBeDefined();
  });

  it('publishes a port for the gateway only, 8080', () => {
    const published = Object.entries(services)
      .filter(([, service]) => (service.ports ?? []).length > 0)
      .map(([name]) => name);
    expect(published).toEqual(['gateway']);
    expect((services.gateway?.ports ?? []).map(String)).toEqual(['8080:8080']);
  });

  it('lets usage scale: no container_name, no ports', () => {
    expect(services.usage).toBeDefined();
    expect(services.usage?.container_name).toBeUndefined();
    expect(services.usage?.ports).toBeUndefined();
  });

  it('orders start-up by health: every depends_on has a condition', () => {
    const missing = Object.entries(services).flatMap(([name, service]) =>
      dependencies(service)
        .filter(([dependency, condition]) => !condition || !services[dependency])
        .map(([dependency]) => `${name} -> ${dependency}`),
    );
    expect(missing).toEqual([]);
  });

  it.each(APPS)('%s starts after its infrastructure is healthy and the setup job has completed', (name) => {
    const deps = Object.fromEntries(dependencies(services[name] ?? {}));
    for (const infra of INFRA) expect(deps[infra]).toBe('service_healthy');
    expect(deps[SETUP]).toBe('service_completed_successfully');
  });

  it.each([...APPS, SETUP])('%s is built from an existing Dockerfile with the repository root as context', (name) => {
    const build = services[name]?.build;
    expect(build).toBeDefined();
    const spec = typeof build === 'string' ? { context: build } : (build ?? {});
    expect(spec.context).toBe('.');
    const dockerfile = join(root, spec.context ?? '.', spec.dockerfile ?? 'Dockerfile');
    expect(existsSync(dockerfile)).toBe(true);
  });

  it.each(APPS)('%s is built from the one Dockerfile with its name and port as build arguments', (name) => {
    expect(services[name]?.build).toMatchObject({ args: { SERVICE: name, PORT: PORTS[name] } });
    expect((services[name]?.build as { dockerfile?: string }).dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    // What the image builds from the argument must exist, or the build fails late.
    expect(existsSync(join(root, 'services', name, 'package.json'))).toBe(true);
    expect(dockerfile).toContain(`COPY services/${name}/package.json services/${name}/`);
  });

  it('the Dockerfile runs the chosen service as a non-root user, with a healthcheck and node as PID 1', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim/m);
    expect(dockerfile).toMatch(/^USER (?!root)\S+/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^ENV .*KANA_SERVICE=\$SERVICE/m);
    expect(dockerfile).toContain('exec node \\"services/$KANA_SERVICE/dist/main.js\\"');
  });

  it.each(APPS)('%s gets every variable its config needs', (name) => {
    const env = envOf(services[name] ?? {});
    const missing = REQUIRED_ENV[name]!.filter((key) => !(key in env) || env[key] === '');
    expect(missing).toEqual([]);
    expect(Number(env.PORT)).toBe(PORTS[name]);
  });

  it('points the services at each other by service name', () => {
    expect(envOf(services.gateway ?? {})).toMatchObject({
      IDENTITY_URL: 'http://identity:8091',
      USAGE_URL: 'http://usage:8092',
      RULES_URL: 'http://rules:8093',
    });
    expect(envOf(services.usage ?? {}).RULES_URL).toBe('http://rules:8093');
  });

  it('runs the setup job once, from the gateway image', () => {
    const setup = services[SETUP] ?? {};
    expect(setup.command).toEqual(['node', 'packages/platform/dist/setup-cli.js']);
    expect(setup.build).toMatchObject({ args: { SERVICE: 'gateway' } });
  });
});
