// The one answer to "may this account do that?". Pure and synchronous, so the
// HTTP gate, the admin tools and any TypeScript caller that imports it agree by construction.
import {
  GATE_ACTIONS,
  GATE_STATES,
  type GateAction,
  type GateCode,
  type GateDecision,
  type GateFlags,
  type GateState,
  type GateWouldBe,
} from './types.js';

/** Actions that the matrix treats alike; the customer-facing wording is per group. */
type ActionGroup =
  | 'server_power'
  | 'server_stop'
  | 'server_provision'
  | 'backup_change'
  | 'backup_read'
  | 'file_read'
  | 'file_change'
  | 'repair';

const GROUP_OF: Record<GateAction, ActionGroup> = {
  'server.start': 'server_power',
  'server.restart': 'server_power',
  'server.console': 'server_power',
  'server.stop': 'server_stop',
  'server.provision': 'server_provision',
  'backup.create': 'backup_change',
  'backup.restore': 'backup_change',
  'backup.delete': 'backup_change',
  'backup.prune': 'backup_change',
  'backup.list': 'backup_read',
  'backup.download': 'backup_read',
  'file.read': 'file_read',
  'file.list': 'file_read',
  'file.download': 'file_read',
  'file.write': 'file_change',
  'file.upload': 'file_change',
  'file.delete': 'file_change',
  'controller.repair': 'repair',
};

// The gate table (docs/design.md, "Gates"), column by column: active, overdue, final_warning, suspended, retained.
const ALLOWED: Record<ActionGroup, Record<GateState, boolean>> = {
  server_power: row(1, 1, 1, 0, 0),
  server_stop: row(1, 1, 1, 1, 1),
  server_provision: row(1, 0, 0, 0, 0),
  backup_change: row(1, 1, 0, 0, 0),
  backup_read: row(1, 1, 1, 1, 1),
  file_read: row(1, 1, 1, 1, 1),
  file_change: row(1, 1, 1, 0, 0),
  repair: row(1, 1, 1, 0, 0),
};

function row(...cells: (0 | 1)[]): Record<GateState, boolean> {
  return Object.fromEntries(GATE_STATES.map((state, i) => [state, cells[i] === 1])) as Record<
    GateState,
    boolean
  >;
}

/**
 * What each group is called in a denial, with the verb form its subject takes: "Automatic
 * repairs are", "Creating new servers is". The number belongs to the noun, so it is written next
 * to it rather than guessed from the words.
 */
interface Subject {
  noun: string;
  is: 'is' | 'are';
}

const WHAT: Record<ActionGroup, Subject> = {
  server_power: { noun: 'Starting servers and opening the console', is: 'are' },
  // Stryker disable next-line StringLiteral,ObjectLiteral: never shown, the matrix allows stopping in every state
  server_stop: { noun: 'Stopping servers', is: 'is' },
  server_provision: { noun: 'Creating new servers', is: 'is' },
  backup_change: { noun: 'Backup changes (create, restore, delete, prune)', is: 'are' },
  // Stryker disable next-line StringLiteral,ObjectLiteral: never shown, the matrix allows backup reads in every state
  backup_read: { noun: 'Listing and downloading backups', is: 'are' },
  // Stryker disable next-line StringLiteral,ObjectLiteral: never shown, the matrix allows file reads in every state
  file_read: { noun: 'Reading and downloading files', is: 'are' },
  file_change: { noun: 'Changing files (write, upload, delete)', is: 'is' },
  repair: { noun: 'Automatic repairs', is: 'are' },
};

const PAY = 'Pay the open invoice to restore full access.';
const DOWNLOADS = 'You can still download your files and backups.';

/** "Automatic repairs are", the start of every denial. */
const subject = (group: ActionGroup) => `${WHAT[group].noun} ${WHAT[group].is}`;

const DENIED_MESSAGE: Record<DeniedCode, (group: ActionGroup) => string> = {
  BILLING_OVERDUE: (group) =>
    `${subject(group)} not available while a payment on your account is overdue. Your existing servers keep running. ${PAY}`,
  BILLING_BACKUPS_BLOCKED: (group) =>
    `${subject(group)} paused because a payment on your account is overdue. You can still list and download your backups. ${PAY}`,
  BILLING_SUSPENDED: (group) =>
    `${subject(group)} not available: your servers are suspended for billing because a payment is overdue. Nothing is broken and no data has been deleted. ${DOWNLOADS} ${PAY}`,
  BILLING_RETAINED: (group) =>
    `${subject(group)} not available: your servers are suspended for billing and your data is retained, untouched. ${DOWNLOADS} ${PAY}`,
};

const ALLOWED_MESSAGE: Record<GateState, string> = {
  active: 'Allowed.',
  overdue: 'Allowed. A payment on your account is overdue: pay the open invoice to avoid interruptions.',
  final_warning:
    'Allowed. A payment on your account is overdue and backup changes are paused: pay the open invoice to avoid a suspension.',
  suspended: `Allowed. Your servers are suspended for billing; downloads keep working. ${PAY}`,
  retained: `Allowed. Your servers are suspended for billing and your data is retained; downloads keep working. ${PAY}`,
};

type DeniedCode = Exclude<GateCode, 'BILLING_OK'>;

/** What the ladder's rung denies, before dry-run and exemptions relax it. */
function deniedCode(state: GateState, group: ActionGroup, backupsBlocked: boolean): DeniedCode | null {
  if (!ALLOWED[group][state]) {
    switch (state) {
      // Stryker disable next-line all: unreachable, the matrix allows every action while active
      case 'active':
        return null; // every action is allowed while active; the matrix says so too
      // Stryker disable next-line ConditionalExpression: equivalent, overdue denies no backup change, so falling through to final_warning gives the same code
      case 'overdue':
        return 'BILLING_OVERDUE';
      case 'final_warning':
        return group === 'backup_change' ? 'BILLING_BACKUPS_BLOCKED' : 'BILLING_OVERDUE';
      case 'suspended':
        return 'BILLING_SUSPENDED';
      case 'retained':
        return 'BILLING_RETAINED';
    }
  }
  // The flag is what the ladder sets when it blocks backups; honouring it too means a state that
  // lags behind the flag (or a restore half done) can never let a backup change through.
  if (group === 'backup_change' && backupsBlocked) return 'BILLING_BACKUPS_BLOCKED';
  return null;
}

function enforced(state: GateState, action: GateAction, backupsBlocked: boolean): GateWouldBe {
  const group = GROUP_OF[action];
  const code = deniedCode(state, group, backupsBlocked);
  if (code === null) {
    return { allowed: true, code: 'BILLING_OK', message: ALLOWED_MESSAGE[state] };
  }
  return { allowed: false, code, message: DENIED_MESSAGE[code](group) };
}

const STANDING_CODE: Record<GateState, GateCode> = {
  active: 'BILLING_OK',
  overdue: 'BILLING_OVERDUE',
  final_warning: 'BILLING_BACKUPS_BLOCKED',
  suspended: 'BILLING_SUSPENDED',
  retained: 'BILLING_RETAINED',
};

/**
 * Where the account stands, for account views (GET /v1/accounts/:id/billing): the code of its
 * rung and the customer-facing sentence for it. Decisions about an action come from evaluateGate.
 */
export function billingStanding(state: GateState): { code: GateCode; message: string } {
  return {
    code: STANDING_CODE[state],
    message: ALLOWED_MESSAGE[state].replace('Allowed.', '').trim() || 'In good standing.',
  };
}

export function isGateState(value: unknown): value is GateState {
  return (GATE_STATES as readonly unknown[]).includes(value);
}

export function isGateAction(value: unknown): value is GateAction {
  return (GATE_ACTIONS as readonly unknown[]).includes(value);
}

/**
 * Dry-run mode and exempt accounts answer "allowed" with the plain customer message (the
 * customer was told nothing), and say in `wouldBe` what enforcement would have answered.
 */
export function evaluateGate(state: GateState, flags: GateFlags, action: GateAction): GateDecision {
  if (!isGateState(state)) throw new TypeError(`unknown billing state: ${String(state)}`);
  if (!isGateAction(action)) throw new TypeError(`unknown gate action: ${String(action)}`);
  const answer = enforced(state, action, flags.backupsBlocked ?? false);
  const relaxedBy = flags.dryRun ? 'dry-run' : flags.enforcementExempt ? 'exempt' : undefined;
  if (!relaxedBy) return { ...answer, action, state, dryRun: false };
  return {
    allowed: true,
    code: 'BILLING_OK',
    message: ALLOWED_MESSAGE.active,
    action,
    state,
    dryRun: true,
    relaxedBy,
    wouldBe: answer,
  };
}

/** The columns of an account's billing row the gates decide on. */
export interface GateAccountRow {
  state: GateState;
  /** Set while the ladder stands past what was enforced for real (BillingAccount.enforcedState). */
  enforcedState: GateState | null;
  /** The mode of the account's ladder (null: never recorded). */
  policyDryRun: boolean | null;
  backupsBlocked: boolean;
  enforcementExempt: boolean;
}

/**
 * The state and flags a gate decides on, from the account's row and the service's mode. A ladder
 * keeps the mode it runs in whatever the service's is now (a dry-run ladder told the customer
 * nothing, so its answers stay relaxed after the service restarts in enforce), and where the
 * ladder stands past what it enforced for real — after the switch to enforce, before its owed
 * rungs have landed, or after the brake — the real rung decides, not relaxed.
 */
export function gateStanding(
  row: GateAccountRow,
  service: { dryRun: boolean },
): { state: GateState; flags: GateFlags } {
  const ladderDryRun =
    row.state !== 'active' && row.policyDryRun !== null ? row.policyDryRun : service.dryRun;
  return {
    state: row.enforcedState ?? row.state,
    flags: {
      dryRun: row.enforcedState === null && ladderDryRun,
      backupsBlocked: row.backupsBlocked,
      enforcementExempt: row.enforcementExempt,
    },
  };
}
