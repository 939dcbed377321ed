// Permanent failures: named, and listed in NON_RETRYABLE_ERROR_TYPES (workflows/definitions.ts).

export class AccountNotFoundError extends Error {
  constructor(readonly accountId: string) {
    super(`billing account ${accountId} does not exist`);
    this.name = 'AccountNotFoundError';
  }
}
