import { type PrismaClient } from '../../../src/platform/database.js';

/** An account (`cus_<id>`, an email) with one open invoice `in_<id>` of 25.00 USD. */
export function seedAccountWithOpenInvoice(db: PrismaClient, id: string) {
  return db.billingAccount.create({
    data: {
      id,
      stripeCustomerId: `cus_${id}`,
      email: `${id}@customer.example.test`,
      name: 'Fault Customer',
      invoices: {
        create: [
          {
            id: `in_${id}`,
            status: 'open',
            amountDue: 2500,
            currency: 'usd',
            lastEventCreatedAt: new Date(),
          },
        ],
      },
    },
  });
}
