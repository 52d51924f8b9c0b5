"""grid as wangge's identity provider: passwords (Argon2id), access tokens (EdDSA JWTs),
rotating refresh tokens, integrations' API keys, the services' client credentials, JWKS."""
