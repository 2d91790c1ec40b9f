/**
 * A self-signed certificate for test upstreams that pose as public HTTPS hosts (the egress proxy
 * is told to trust it with TENDON_EGRESS_EXTRA_CA_FILE).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCertificate {
  certPath: string;
  cert: Buffer;
  key: Buffer;
}

export function makeCertificate(dir: string, host: string): TestCertificate {
  const keyPath = join(dir, `${host}.key.pem`);
  const certPath = join(dir, `${host}.cert.pem`);
  // biome-ignore format: one openssl option per line pair reads better
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "1",
    "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`,
  ], { stdio: "ignore" });
  return { certPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
