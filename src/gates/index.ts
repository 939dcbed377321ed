// Library entry `billing-enforcement/gates` (package.json "exports"): the gate function and its
// types, importable by any TypeScript service without the database or Temporal.
export {
  billingStanding,
  evaluateGate,
  gateStanding,
  isGateAction,
  isGateState,
  type GateAccountRow,
} from './evaluate.js';
export {
  GATE_ACTIONS,
  GATE_CODES,
  GATE_STATES,
  type GateAction,
  type GateCode,
  type GateDecision,
  type GateFlags,
  type GateState,
  type GateWouldBe,
} from './types.js';
