// The smallest valid environment, and the problems a rejected one reports.
import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/platform/config.js';

export const validEnv = {
  DATABASE_URL: 'postgresql://u:p@localhost:5432/billing',
  INTERNAL_API_TOKEN: 'internal-token-0123456789abcdef',
  ADMIN_TOKEN: 'admin-token-0123456789abcdef0000',
  STRIPE_WEBHOOK_SECRET: 'whsec_one, whsec_two',
};

export function problemsOf(env: Record<string, string>) {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the configuration to be rejected');
}
