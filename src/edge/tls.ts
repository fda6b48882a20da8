// HTTPS from TLS_CERT_FILE and TLS_KEY_FILE. The rules it enforces:
// 1. TLS 1.2 or later only: TLS 1.0 and 1.1 are refused in the handshake (RFC 8996).
// 2. Only AEAD cipher suites (AES-GCM, ChaCha20-Poly1305) with forward secrecy; no CBC suite, which TLS scanners
//    flag (Lucky Thirteen and its kin), and the server's order of preference wins.
// 3. HTTP/2 is negotiated by ALPN, with HTTP/1.1 on the same port for clients that do not offer h2 (RFC 9113 §3.2).
import { readFile } from 'node:fs/promises';
import type { SecureServerOptions } from 'node:http2';
import { type Config, ConfigError } from '../config.ts';

/** TLS 1.3 suites, then TLS 1.2 ECDHE suites for ECDSA and RSA keys: Mozilla's "intermediate" list, AEAD only. */
export const aeadCipherSuites = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface HttpsServerOptions {
  http2: true;
  https: SecureServerOptions;
}

async function readPem(variable: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new ConfigError(variable, `cannot read '${file}' (${(error as { code?: string }).code ?? 'unreadable'})`);
  }
}

/** Fastify's server options for TLS, with the certificate and key read from their files. */
export async function httpsServerOptions(tls: NonNullable<Config['tls']>): Promise<HttpsServerOptions> {
  const [cert, key] = await Promise.all([readPem('TLS_CERT_FILE', tls.certFile), readPem('TLS_KEY_FILE', tls.keyFile)]);
  return {
    http2: true,
    https: {
      cert,
      key,
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      ciphers: aeadCipherSuites,
      honorCipherOrder: true,
    },
  };
}
