-- AlterEnum
ALTER TYPE "StripeEventStatus" ADD VALUE 'unresolved';

-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "detail" TEXT;

-- CreateTable
CREATE TABLE "StripePaymentRef" (
    "id" TEXT NOT NULL,
    "customerId" TEXT,
    "invoiceId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StripePaymentRef_pkey" PRIMARY KEY ("id")
);

