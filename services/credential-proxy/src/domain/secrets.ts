/**
 * Credential secrets in and out of their sealed form. The only place plaintext secrets are
 * (de)serialized; a failure to open is an internal error that names no secret.
 */
import { AppError } from "@tendon/contracts";
import type { CredentialSecret } from "./credential-auth.js";
import { type Keyring, KeyringError } from "./keyring.js";

export interface SecretStore {
  readonly keyring: Keyring;
  seal(secret: CredentialSecret, recordId: string): { ciphertext: Buffer; nonce: Buffer; key_id: string };
  open(row: {
    id: string;
    secret_ciphertext: Buffer | null;
    secret_nonce: Buffer | null;
    key_id: string | null;
  }): CredentialSecret;
}

export function createSecretStore(keyring: Keyring): SecretStore {
  return {
    keyring,
    seal: (secret, recordId) => keyring.seal(JSON.stringify(secret), recordId),
    open(row) {
      if (!row.secret_ciphertext || !row.secret_nonce || !row.key_id) {
        throw new AppError("invalid_request", `credential ${row.id} is archived and holds no secret`);
      }
      try {
        return JSON.parse(
          keyring.open(
            { key_id: row.key_id, nonce: row.secret_nonce, ciphertext: row.secret_ciphertext },
            row.id,
          ),
        ) as CredentialSecret;
      } catch (e) {
        if (e instanceof KeyringError) {
          throw new AppError("internal", `credential ${row.id} cannot be decrypted: ${e.message}`, {
            cause: e,
          });
        }
        throw e;
      }
    },
  };
}
