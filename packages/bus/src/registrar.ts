/**
 * How a service exposes its endpoints: one registrar that serves each handler on the bus, maps
 * errors the handler did not classify (e.g. a database outage → retryable `unavailable`), and
 * reports every handled request to the service's observer (one wide log line per request).
 */
import type { Subscription } from "@nats-io/nats-core";
import { type AppError, type Endpoint, toAppError } from "@tendon/contracts";
import type { Bus } from "./bus.js";
import type { Handler, RpcObserver } from "./rpc.js";

export type Registrar = <E extends Endpoint>(e: E, handler: Handler<E>) => void;

export interface ServiceRegistrar {
  on: Registrar;
  /** Stops serving every endpoint registered so far. */
  close(): void;
}

export function createRegistrar(
  bus: Bus,
  opts: { mapError?: (e: unknown) => AppError; observer?: RpcObserver } = {},
): ServiceRegistrar {
  const subs: Subscription[] = [];
  const mapError = opts.mapError ?? toAppError;
  return {
    on: (e, handler) => {
      const wrapped: typeof handler = async (req, hctx) => {
        try {
          return await handler(req, hctx);
        } catch (err) {
          throw mapError(err);
        }
      };
      subs.push(bus.serve(e, wrapped, opts.observer));
    },
    close: () => {
      for (const s of subs) s.unsubscribe();
    },
  };
}
