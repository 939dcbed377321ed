// The worker's workflow bundle entry point.
export { billingEnforcementWorkflow } from './billing-enforcement.js';
export { sleepDaysWorkflow } from './sleep-days.js';
export { reconciliationWorkflow } from './reconciliation.js';
export { opsAlertWorkflow } from './ops-alert.js';
