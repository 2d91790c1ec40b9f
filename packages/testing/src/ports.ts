/**
 * Free TCP ports on the loopback interface.
 *
 * Invariant: the returned port was bindable on 127.0.0.1 a moment ago and is released before
 * returning. Another process can still take it in between, so launchers that use it retry on
 * "address in use".
 */
import { createServer } from "node:net";

/** A TCP port that is currently free on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("freePort: could not read the bound address"));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
