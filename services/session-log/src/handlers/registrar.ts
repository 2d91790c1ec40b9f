import type { Handler } from "@tendon/bus";
import type { Endpoint } from "@tendon/contracts";

/** Registers a handler for an endpoint (the app wraps it with logging and error mapping). */
export type Registrar = <E extends Endpoint>(e: E, handler: Handler<E>) => void;
