-- AlterTable
ALTER TABLE "BillingAccount" ADD COLUMN     "enforcedState" "BillingState";
