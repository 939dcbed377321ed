-- AlterEnum
ALTER TYPE "NotificationStatus" ADD VALUE 'unconfirmed';

-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "sendingAt" TIMESTAMP(3);

