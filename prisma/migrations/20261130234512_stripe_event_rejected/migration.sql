-- AlterEnum
ALTER TYPE "StripeEventStatus" ADD VALUE 'rejected';

-- AlterTable
ALTER TABLE "StripeEventLog" ADD COLUMN     "rawBody" BYTEA;

-- CreateTable
CREATE TABLE "StripeEventReplay" (
    "id" TEXT NOT NULL,
    "eventId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "result" TEXT,
    "outcome" TEXT,
    "requestedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "StripeEventReplay_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "StripeEventReplay_eventId_requestedAt_idx" ON "StripeEventReplay"("eventId", "requestedAt");

-- AddForeignKey
ALTER TABLE "StripeEventReplay" ADD CONSTRAINT "StripeEventReplay_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "StripeEventLog"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

