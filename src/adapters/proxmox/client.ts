// A small typed client for the few Proxmox VE API calls the ladder needs. Not the `proxmox-api`
// package: it is GPL-3.0, its errors carry no status code, it retries requests on its own and
// insists on one exact content type. node:https gives us the CA and the token header directly.
import http from 'node:http';
import https from 'node:https';
import { type Logger } from '../../platform/logger.js';

export interface ProxmoxClientOptions {
  /** e.g. https://pve1.example.com:8006 (a trailing /api2/json is accepted). */
  apiUrl: string;
  /** USER@REALM!TOKENID */
  tokenId: string;
  tokenSecret: string;
  /** PEM of the CA that signed the cluster's certificate (self-signed clusters are normal). */
  ca?: string | Buffer;
  /** Skip certificate verification: only with an explicit PROXMOX_TLS_INSECURE=true, and loudly. */
  insecure?: boolean;
  timeoutMs?: number;
  logger?: Logger;
}

/** A Proxmox call failed; enforcement retries it (Temporal) and alerts ops when it keeps failing. */
export class ProxmoxApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProxmoxApiError';
  }
}

export type Params = Record<string, string | number | boolean>;

export interface ProxmoxClient {
  get<T>(path: string, params?: Params): Promise<T>;
  post<T>(path: string, params?: Params): Promise<T>;
}

export function createProxmoxClient(options: ProxmoxClientOptions): ProxmoxClient {
  const base = new URL(options.apiUrl.replace(/\/+$/, '').replace(/\/api2\/json$/, '') + '/api2/json');
  const isHttps = base.protocol === 'https:';
  if (!isHttps && base.protocol !== 'http:') throw new Error('PROXMOX_API_URL must be an http(s) URL');
  if (isHttps && options.insecure) {
    options.logger?.warn(
      { host: base.host },
      'PROXMOX_TLS_INSECURE=true: the Proxmox certificate is NOT verified; set PROXMOX_CA_PATH instead',
    );
  }
  if (!isHttps) {
    options.logger?.warn(
      { host: base.host },
      'PROXMOX_API_URL is plain http: the API token travels unencrypted',
    );
  }
  const agent = isHttps
    ? new https.Agent({
        keepAlive: true,
        ...(options.ca ? { ca: options.ca } : {}),
        rejectUnauthorized: !options.insecure,
      })
    : new http.Agent({ keepAlive: true });
  const authorization = `PVEAPIToken=${options.tokenId}=${options.tokenSecret}`;
  const timeoutMs = options.timeoutMs ?? 30_000;

  function request<T>(method: 'GET' | 'POST', path: string, params: Params = {}): Promise<T> {
    const url = new URL(base.pathname + path, base);
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      const text = value === true ? '1' : value === false ? '0' : String(value);
      if (method === 'GET') url.searchParams.set(key, text);
      else form.set(key, text);
    }
    const body = method === 'POST' ? form.toString() : undefined;
    const what = `${method} ${url.pathname}`;
    return new Promise<T>((resolve, reject) => {
      const req = (isHttps ? https : http).request(
        url,
        {
          method,
          agent,
          timeout: timeoutMs,
          headers: {
            Authorization: authorization,
            Accept: 'application/json',
            ...(body !== undefined
              ? {
                  'Content-Type': 'application/x-www-form-urlencoded',
                  'Content-Length': Buffer.byteLength(body),
                }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => reject(new ProxmoxApiError(`${what}: ${error.message}`)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status < 200 || status >= 300) {
              // Proxmox puts the reason in the status line and, for parameter errors, in `errors`.
              reject(
                new ProxmoxApiError(
                  `${what}: ${status} ${res.statusMessage ?? ''} ${text.slice(0, 300)}`.trim(),
                  status,
                ),
              );
              return;
            }
            try {
              resolve((JSON.parse(text) as { data: T }).data);
            } catch {
              reject(new ProxmoxApiError(`${what}: the answer is not JSON`, status));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => reject(new ProxmoxApiError(`${what}: ${error.message}`)));
      req.end(body);
    });
  }

  return {
    get: (path, params) => request('GET', path, params),
    post: (path, params) => request('POST', path, params),
  };
}
