export type { CredentialProxyDeps, CredentialProxyService } from "./app.js";
export { checkKeys, createCredentialProxy } from "./app.js";
export { createKeyring, KeyringError, keyId, parseKey } from "./domain/keyring.js";
export { createSecretStore } from "./domain/secrets.js";
export { CREDENTIAL_MIGRATIONS } from "./store/migrations.js";
export type { CredentialsDatabase } from "./store/schema.js";
