/**
 * A git smart-HTTP upstream for tests: `git http-backend` behind an HTTPS server that demands
 * `Authorization: Basic x-access-token:<token>` (as GitHub does for installation tokens) and
 * records every request's path and Authorization header.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TestCertificate } from "./tls.js";

export interface GitRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  status: number;
}

export interface TestGitServer {
  port: number;
  requests: GitRequest[];
  close(): Promise<void>;
}

export async function startGitServer(opts: {
  root: string;
  token: string;
  tls: TestCertificate;
}): Promise<TestGitServer> {
  const expected = `Basic ${Buffer.from(`x-access-token:${opts.token}`).toString("base64")}`;
  const requests: GitRequest[] = [];
  const server: Server = createServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://git.test");
    const record = (status: number) =>
      requests.push({
        method: req.method ?? "GET",
        path: url.pathname,
        authorization: req.headers.authorization,
        status,
      });
    if (req.headers.authorization !== expected) {
      record(401);
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("unauthorized\n");
      return;
    }
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: opts.root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-encoding"]
          ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] }
          : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        // An authenticated user: http-backend enables receive-pack (push) only then.
        REMOTE_USER: "x-access-token",
        REMOTE_ADDR: "127.0.0.1",
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let streaming = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (streaming) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      record(status);
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
      streaming = true;
    });
    cgi.stdout.on("end", () => {
      if (!streaming) {
        record(502);
        res.writeHead(502).end("bad gateway\n");
      } else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
