-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "BillingState" AS ENUM ('active', 'overdue', 'final_warning', 'suspended', 'retained');

-- CreateEnum
CREATE TYPE "ServerKind" AS ENUM ('qemu', 'lxc');

-- CreateEnum
CREATE TYPE "StripeEventStatus" AS ENUM ('received', 'processed', 'ignored', 'orphan', 'stale', 'failed');

-- CreateEnum
CREATE TYPE "NotificationChannel" AS ENUM ('email', 'discord_billing', 'discord_ops');

-- CreateEnum
CREATE TYPE "NotificationStatus" AS ENUM ('pending', 'sent', 'logged', 'failed');

-- CreateTable
CREATE TABLE "BillingAccount" (
    "id" TEXT NOT NULL,
    "stripeCustomerId" TEXT,
    "email" TEXT,
    "name" TEXT,
    "state" "BillingState" NOT NULL DEFAULT 'active',
    "overdueSince" TIMESTAMP(3),
    "finalWarningAt" TIMESTAMP(3),
    "suspendedAt" TIMESTAMP(3),
    "retainedAt" TIMESTAMP(3),
    "retainUntil" TIMESTAMP(3),
    "deletionReviewDueAt" TIMESTAMP(3),
    "restoredAt" TIMESTAMP(3),
    "backupsBlocked" BOOLEAN NOT NULL DEFAULT false,
    "enforcementExempt" BOOLEAN NOT NULL DEFAULT false,
    "exemptReason" TEXT,
    "disputed" BOOLEAN NOT NULL DEFAULT false,
    "subscriptionStatus" TEXT,
    "workflowId" TEXT,
    "policyVersion" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BillingAccount_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Server" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "vmid" INTEGER NOT NULL,
    "node" TEXT NOT NULL,
    "kind" "ServerKind" NOT NULL DEFAULT 'qemu',
    "name" TEXT,
    "powerState" TEXT NOT NULL DEFAULT 'running',
    "billingSuspended" BOOLEAN NOT NULL DEFAULT false,
    "powerStateBeforeSuspend" TEXT,
    "suspendedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Server_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Invoice" (
    "id" TEXT NOT NULL,
    "accountId" TEXT,
    "status" TEXT NOT NULL,
    "amountDue" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "hostedInvoiceUrl" TEXT,
    "lastEventCreatedAt" TIMESTAMP(3) NOT NULL,
    "lastEventId" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Invoice_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StripeEventLog" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "accountId" TEXT,
    "objectId" TEXT,
    "status" "StripeEventStatus" NOT NULL DEFAULT 'received',
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "payload" JSONB NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processedAt" TIMESTAMP(3),

    CONSTRAINT "StripeEventLog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BillingEnforcementEvent" (
    "id" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "step" TEXT,
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "detail" JSONB,
    "idempotencyKey" TEXT NOT NULL,
    "workflowId" TEXT,
    "runId" TEXT,
    "occurredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BillingEnforcementEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" TEXT NOT NULL,
    "accountId" TEXT,
    "channel" "NotificationChannel" NOT NULL,
    "template" TEXT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "status" "NotificationStatus" NOT NULL DEFAULT 'pending',
    "subject" TEXT,
    "providerMessageId" TEXT,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "BillingAccount_stripeCustomerId_key" ON "BillingAccount"("stripeCustomerId");

-- CreateIndex
CREATE INDEX "BillingAccount_state_idx" ON "BillingAccount"("state");

-- CreateIndex
CREATE UNIQUE INDEX "Server_vmid_key" ON "Server"("vmid");

-- CreateIndex
CREATE INDEX "Server_accountId_idx" ON "Server"("accountId");

-- CreateIndex
CREATE INDEX "Invoice_accountId_status_idx" ON "Invoice"("accountId", "status");

-- CreateIndex
CREATE INDEX "StripeEventLog_accountId_idx" ON "StripeEventLog"("accountId");

-- CreateIndex
CREATE INDEX "StripeEventLog_status_receivedAt_idx" ON "StripeEventLog"("status", "receivedAt");

-- CreateIndex
CREATE INDEX "StripeEventLog_objectId_idx" ON "StripeEventLog"("objectId");

-- CreateIndex
CREATE UNIQUE INDEX "BillingEnforcementEvent_idempotencyKey_key" ON "BillingEnforcementEvent"("idempotencyKey");

-- CreateIndex
CREATE INDEX "BillingEnforcementEvent_accountId_createdAt_idx" ON "BillingEnforcementEvent"("accountId", "createdAt");

-- CreateIndex
CREATE INDEX "BillingEnforcementEvent_kind_occurredAt_idx" ON "BillingEnforcementEvent"("kind", "occurredAt");

-- CreateIndex
CREATE UNIQUE INDEX "Notification_idempotencyKey_key" ON "Notification"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Notification_accountId_createdAt_idx" ON "Notification"("accountId", "createdAt");

-- CreateIndex
CREATE INDEX "Notification_status_createdAt_idx" ON "Notification"("status", "createdAt");

-- AddForeignKey
ALTER TABLE "Server" ADD CONSTRAINT "Server_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Invoice" ADD CONSTRAINT "Invoice_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BillingEnforcementEvent" ADD CONSTRAINT "BillingEnforcementEvent_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BillingAccount"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

