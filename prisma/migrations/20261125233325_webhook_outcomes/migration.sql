-- AlterTable
ALTER TABLE "BillingAccount" ADD COLUMN     "subscriptionEventAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "StripeEventLog" ADD COLUMN     "outcome" TEXT;

