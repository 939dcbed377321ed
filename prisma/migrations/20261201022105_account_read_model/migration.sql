-- AlterTable
ALTER TABLE "BillingAccount" ADD COLUMN     "policyDryRun" BOOLEAN,
ADD COLUMN     "restoreNote" TEXT,
ADD COLUMN     "restoreReason" TEXT,
ADD COLUMN     "restoredBy" TEXT;

