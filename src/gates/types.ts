// The vocabulary of the gates, shared with every caller (main API, controller, Portal) through
// the package entry `billing-enforcement/gates`. Plain data only: no Node built-ins, no database.

/** Billing states of an account, in ladder order (mirrors the `BillingState` enum of the schema). */
export const GATE_STATES = ['active', 'overdue', 'final_warning', 'suspended', 'retained'] as const;
export type GateState = (typeof GATE_STATES)[number];

/** Everything a caller may ask about. New actions are added here and in the matrix together. */
export const GATE_ACTIONS = [
  'server.start',
  'server.restart',
  'server.console',
  'server.stop',
  'server.provision',
  'backup.create',
  'backup.restore',
  'backup.delete',
  'backup.prune',
  'backup.list',
  'backup.download',
  'file.read',
  'file.list',
  'file.download',
  'file.write',
  'file.upload',
  'file.delete',
  'controller.repair',
] as const;
export type GateAction = (typeof GATE_ACTIONS)[number];

/** Stable codes: callers branch on these, never on the message text. */
export const GATE_CODES = [
  'BILLING_OK',
  'BILLING_OVERDUE',
  'BILLING_BACKUPS_BLOCKED',
  'BILLING_SUSPENDED',
  'BILLING_RETAINED',
] as const;
export type GateCode = (typeof GATE_CODES)[number];

export interface GateFlags {
  /** ENFORCEMENT_MODE=dry-run: every answer is "allowed", with what it would have been. */
  dryRun: boolean;
  /** `BillingAccount.backupsBlocked`, set by the ladder: backup changes are denied while it is on. */
  backupsBlocked?: boolean;
  /**
   * `BillingAccount.enforcementExempt`: the ladder acts as in dry-run for this account only, so
   * the gates do too — allowed, with what the answer would have been.
   */
  enforcementExempt?: boolean;
}

/** What the enforcing gate would have answered (dry-run and exempt accounts only). */
export interface GateWouldBe {
  allowed: boolean;
  code: GateCode;
  message: string;
}

export interface GateDecision {
  allowed: boolean;
  /** `BILLING_OK` whenever `allowed`; otherwise why not. */
  code: GateCode;
  /** Customer-facing, safe to show as is. */
  message: string;
  action: GateAction;
  state: GateState;
  /** True when the answer was relaxed: dry-run mode or an exempt account. */
  dryRun: boolean;
  /** Why the answer was relaxed, when it was. */
  relaxedBy?: 'dry-run' | 'exempt';
  /** Present exactly when `dryRun` is true: the answer enforcement would give. */
  wouldBe?: GateWouldBe;
}
