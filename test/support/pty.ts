/**
 * Runs a command in a real pseudo-terminal with util-linux `script` (no native build): the child
 * sees a TTY on stdin/stdout/stderr, `stty` sets its size, and bytes written to `input` arrive as
 * if typed (`\x03` is Ctrl-C: the terminal turns it into SIGINT). Also a TCP proxy whose
 * connections a test can cut, to exercise reconnection.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { waitFor } from "@tendon/testing";

export interface PtyRun {
  /** Everything the terminal showed so far (raw: escapes and \r\n included). */
  raw(): string;
  /** Types bytes into the terminal. */
  type(s: string): void;
  /** Resolves when the raw output matches `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  /** The command's exit status (script -e passes it through; 128+n for a signal). */
  readonly exited: Promise<number>;
  kill(): void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function runInPty(
  argv: string[],
  opts: { env: Record<string, string>; cols?: number; rows?: number },
): PtyRun {
  const cmd = `stty cols ${opts.cols ?? 100} rows ${opts.rows ?? 40} 2>/dev/null; exec ${argv.map(quote).join(" ")}`;
  const child: ChildProcess = spawn("script", ["-qefc", cmd, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SHELL: "/bin/sh", TERM: "xterm-256color", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
  });
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  return {
    raw: () => out,
    type: (s) => void child.stdin?.write(s),
    waitFor: async (re, timeoutMs = 30_000) => {
      await waitFor(() => re.test(out), {
        timeoutMs,
        message: `terminal output matching ${re}; got:\n${out}`,
      });
    },
    exited,
    kill: () => void child.kill("SIGKILL"),
  };
}

/** The output with colour and cursor escapes removed (erased text still there). */
export function plainText(raw: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing escape sequences
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/** What a person reads on the screen: colours and cursor escapes removed, erased lines gone. */
export function screenText(raw: string): string {
  const lines: string[] = [""];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: splitting on terminal escapes
  for (const part of raw.split(/(\r\x1b\[2K|\r?\n|\r)/)) {
    if (part === "\n" || part === "\r\n") lines.push("");
    else if (part === "\r\x1b[2K" || part === "\r") lines[lines.length - 1] = "";
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing escape sequences
    else lines[lines.length - 1] += part.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  }
  return lines.join("\n");
}

export interface CuttableProxy {
  readonly url: string;
  /** Destroys every open connection and refuses new ones until `resume()`. */
  cut(): void;
  resume(): void;
  /** Connections accepted so far (refused ones not counted). */
  accepted(): number;
  /** Sockets open now (both sides of each connection). */
  open(): number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` (host:port) on a free local port. */
export async function startCuttableProxy(targetUrl: string): Promise<CuttableProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let refusing = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = tcpConnect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    resume() {
      refusing = false;
    },
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
