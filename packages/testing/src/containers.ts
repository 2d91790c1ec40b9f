/**
 * NATS and PostgreSQL in containers via testcontainers, when a container runtime answers.
 *
 * Invariants:
 * - `testcontainers` is imported lazily (`await import`), once, and only here: a broken or
 *   missing install (12.x crashes at import on Node 20; pinned to 11.14.0) means "no runtime".
 * - `containerRuntimeAvailable()` never throws and gives up within `RUNTIME_PROBE_MS`; with no
 *   runtime it answers in a few milliseconds.
 * - Each launcher's `stop()` is idempotent and stops only the container it started.
 */

export interface ContainerService {
  url: string;
  /** Stops and removes the container. Idempotent. */
  stop(): Promise<void>;
}

type Testcontainers = typeof import("testcontainers");

const NATS_IMAGE = "nats:2.10-alpine";
const POSTGRES_IMAGE = "postgres:16-alpine";
const RUNTIME_PROBE_MS = 5_000;

let loaded: Promise<Testcontainers | undefined> | undefined;

function loadTestcontainers(): Promise<Testcontainers | undefined> {
  loaded ??= import("testcontainers").catch(() => undefined);
  return loaded;
}

/** Why no runtime is usable, or undefined when one answers. Never throws. */
export async function containerRuntimeUnavailable(): Promise<string | undefined> {
  const tc = await loadTestcontainers();
  if (tc === undefined) return "the testcontainers module could not be loaded";
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      tc.getContainerRuntimeClient(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${RUNTIME_PROBE_MS} ms`)),
          RUNTIME_PROBE_MS,
        );
      }),
    ]);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

/** nats-server with JetStream in a container. */
export async function startNatsContainer(): Promise<ContainerService> {
  const tc = await requireTestcontainers();
  const container = await new tc.GenericContainer(NATS_IMAGE)
    .withCommand(["-js"])
    .withExposedPorts(4222)
    .withWaitStrategy(tc.Wait.forLogMessage(/Server is ready/))
    .start();
  return service(`nats://${container.getHost()}:${container.getMappedPort(4222)}`, () => container.stop());
}

/** PostgreSQL in a container; the URL is the admin URL (database `postgres`). */
export async function startPostgresContainer(): Promise<ContainerService> {
  await requireTestcontainers();
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer(POSTGRES_IMAGE)
    .withDatabase("postgres")
    .withUsername("postgres")
    .withPassword("postgres")
    .start();
  return service(container.getConnectionUri(), () => container.stop());
}

async function requireTestcontainers(): Promise<Testcontainers> {
  const tc = await loadTestcontainers();
  if (tc === undefined) throw new Error("the testcontainers module could not be loaded");
  return tc;
}

function service(url: string, stopContainer: () => Promise<unknown>): ContainerService {
  let stopping: Promise<void> | undefined;
  return {
    url,
    stop: () => {
      stopping ??= stopContainer().then(() => undefined);
      return stopping;
    },
  };
}
