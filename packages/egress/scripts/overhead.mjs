// Overhead of one HTTPS request through the egress proxy vs direct, all on loopback, same run.
// Build first (`npx tsc -b packages/egress`), then: node packages/egress/scripts/overhead.mjs [N]
// Each sample is a fresh connection + TLS handshake + GET; the three kinds are interleaved.
import { request } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { createCertificateAuthority } from "../dist/index.js";
import { openTunnel, SocketAgent, startHttpsUpstream, startProxy } from "../dist/test-support/harness.js";

const out = (line) => process.stdout.write(`${line}\n`);
const N = Number(process.argv[2] ?? 50);
const upstreamCa = await createCertificateAuthority({ commonName: "bench upstream CA" });
const api = await startHttpsUpstream("api", upstreamCa);
const PH = "tnd_ph_bench0123456789abcdefghijklmnop";
const fx = await startProxy(
  {
    network: { type: "unrestricted" },
    credentials: [
      {
        id: "c",
        vaultId: "v",
        placeholder: PH,
        secret: "sk-bench",
        allowedHosts: ["api.test"],
        injection: { header: true, body: true },
      },
    ],
  },
  { "api.test:443": api.port, "plain.test:443": api.port },
  { upstreamCa: [upstreamCa.certPem] },
);

function get(agent, host) {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, path: "/bench", headers: { host, authorization: `Bearer ${PH}` } },
      (res) => {
        res.resume();
        res.on("end", resolve);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function direct() {
  const t = performance.now();
  const tls = tlsConnect({
    host: "127.0.0.1",
    port: api.port,
    servername: "api.test",
    ca: [upstreamCa.certPem],
  });
  await new Promise((r, j) => tls.once("secureConnect", r).once("error", j));
  const agent = new SocketAgent(tls);
  await get(agent, "api.test");
  const ms = performance.now() - t;
  agent.destroy();
  tls.destroy();
  return ms;
}

async function viaProxy(host, trust) {
  const t = performance.now();
  const tunnel = await openTunnel(fx, `${host}:443`, [trust]);
  await get(tunnel.agent, host);
  const ms = performance.now() - t;
  tunnel.agent.destroy();
  tunnel.tls.destroy();
  return ms;
}

const kinds = {
  direct: () => direct(),
  tunnelled: () => viaProxy("plain.test", upstreamCa.certPem),
  terminated: () => viaProxy("api.test", fx.ca.certPem),
};
const samples = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
for (let i = 0; i < N + 5; i++) {
  for (const [k, fn] of Object.entries(kinds)) {
    const ms = await fn();
    if (i >= 5) samples[k].push(ms);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const base = median(samples.direct);
for (const [k, xs] of Object.entries(samples)) {
  const m = median(xs);
  out(`${k.padEnd(11)} median ${m.toFixed(2)} ms  overhead ${(m - base).toFixed(2)} ms  (n=${xs.length})`);
}

// Requests on an already-open connection (keep-alive): direct vs inside a terminated tunnel.
const dTls = tlsConnect({
  host: "127.0.0.1",
  port: api.port,
  servername: "api.test",
  ca: [upstreamCa.certPem],
});
await new Promise((r, j) => dTls.once("secureConnect", r).once("error", j));
const dAgent = new SocketAgent(dTls);
const tun = await openTunnel(fx, "api.test:443", [fx.ca.certPem]);
const warm = { direct: [], terminated: [] };
for (let i = 0; i < N + 5; i++) {
  for (const [k, agent] of [
    ["direct", dAgent],
    ["terminated", tun.agent],
  ]) {
    const t = performance.now();
    await get(agent, "api.test");
    if (i >= 5) warm[k].push(performance.now() - t);
  }
}
const wBase = median(warm.direct);
for (const [k, xs] of Object.entries(warm)) {
  const m = median(xs);
  out(
    `keep-alive ${k.padEnd(11)} median ${m.toFixed(2)} ms  overhead ${(m - wBase).toFixed(2)} ms  (n=${xs.length})`,
  );
}
dAgent.destroy();
dTls.destroy();
tun.agent.destroy();
tun.tls.destroy();
await fx.close();
await api.close();
