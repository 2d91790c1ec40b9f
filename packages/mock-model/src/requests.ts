/**
 * The log of recorded `/v1/messages` requests, oldest first.
 *
 * Invariants: bounded (the oldest entries are dropped past `limit`); entries are never mutated.
 */

/** One request as the mock received it. */
export interface RecordedRequest {
  model: string;
  /** The parsed JSON body, as sent. */
  body: unknown;
  stream: boolean;
  /** Arrival time, ms since the epoch. */
  at: number;
  /**
   * Arrival time in high resolution: `performance.now()` when the request's headers arrived, before
   * its body was read. Comparable only with `performance.now()` in the same process (benchmarks
   * that run the mock in-process time model requests with it).
   */
  receivedAt: number;
  /** The W3C `traceparent` header the caller sent, if any (tracing tests check propagation). */
  traceparent?: string;
}

export class RequestLog {
  #entries: RecordedRequest[] = [];
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  record(entry: RecordedRequest): void {
    this.#entries.push(entry);
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
  }

  /** Recorded requests (for `model`, or all), newest last. */
  list(model?: string): RecordedRequest[] {
    return model === undefined ? [...this.#entries] : this.#entries.filter((e) => e.model === model);
  }

  clear(model?: string): void {
    this.#entries = model === undefined ? [] : this.#entries.filter((e) => e.model !== model);
  }

  get size(): number {
    return this.#entries.length;
  }
}
