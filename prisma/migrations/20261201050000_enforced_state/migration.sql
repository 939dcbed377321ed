-- AlterTable
ALTER TABLE "BillingAccount" ADD COLUMN     "enforcedState" "BillingState";

-- The gates read the mode of an account's own ladder from "policyDryRun". Ladders whose last
-- transition was written before that column was take it from the audit row of that transition
-- (an exempt account's rows say dry-run too; the gates relax for it either way).
UPDATE "BillingAccount" a
SET "policyDryRun" = (
  SELECT e."dryRun" FROM "BillingEnforcementEvent" e
  WHERE e."accountId" = a.id AND e.kind LIKE 'transition:%'
  ORDER BY e."occurredAt" DESC, e.id DESC
  LIMIT 1
)
WHERE a."policyDryRun" IS NULL AND a.state <> 'active';
