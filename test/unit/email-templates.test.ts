import { describe, expect, it } from 'vitest';
import {
  EMAIL_TEMPLATES,
  formatAmount,
  renderEmail,
  sampleEmailContext,
} from '../../src/notifications/email-templates.js';

const next = new Date('2030-03-04T05:06:00Z');
const ctx = {
  accountName: 'Blocky <Builders> & Co',
  amountDueCents: 2599,
  currency: 'eur',
  hostedInvoiceUrl: 'https://invoice.stripe.com/i/in_123',
  portalUrl: 'https://portal.example.com',
  nextActionAt: next,
};

describe('customer emails', () => {
  it.each(EMAIL_TEMPLATES.filter((t) => t !== 'restored'))(
    '%s: subject, text and HTML name the account, the amount and currency, the invoice link, the next date, what works and what is blocked',
    (template) => {
      const email = renderEmail(template, ctx);
      expect(email.subject).toContain('EUR 25.99');
      for (const part of [email.text, email.html]) {
        expect(part).toContain('EUR 25.99');
        expect(part).toContain('https://invoice.stripe.com/i/in_123');
        expect(part).toContain('Mon, 04 Mar 2030 05:06:00 UTC');
        expect(part).toMatch(/file downloads/i);
        expect(part).toMatch(/Blocked until payment/);
        expect(part).toMatch(/What happens next/);
      }
      expect(email.text).toContain('Account: Blocky <Builders> & Co');
      // The name is escaped in HTML, never injected.
      expect(email.html).toContain('Blocky &lt;Builders&gt; &amp; Co');
      expect(email.html).not.toContain('<Builders>');
      expect(email.html).toMatch(/^<!doctype html>/);
    },
  );

  it('what is blocked follows the rung', () => {
    expect(renderEmail('payment_failed', ctx).text).toContain('Blocked until payment: Nothing yet.');
    expect(renderEmail('final_warning', ctx).text).toMatch(/Blocked until payment: Backup create, restore/);
    expect(renderEmail('suspended', ctx).text).toMatch(/Blocked until payment: Starting servers/);
    expect(renderEmail('suspended', ctx).text).toContain('No data has been deleted');
  });

  it('restored: no amount, no pay button, everything works again', () => {
    const email = renderEmail('restored', {
      ...ctx,
      amountDueCents: null,
      currency: null,
      hostedInvoiceUrl: null,
    });
    expect(email.subject).toBe('Payment received — access restored');
    expect(email.text).not.toMatch(/Blocked|Pay the invoice/);
    expect(email.html).not.toContain('Pay ');
    expect(email.text).toContain('https://portal.example.com');
  });

  it('without an invoice link, the portal is where to pay', () => {
    const email = renderEmail('final_warning', { ...ctx, hostedInvoiceUrl: null });
    expect(email.text).toContain('Pay in the portal: https://portal.example.com');
    expect(email.html).toContain('href="https://portal.example.com"');
  });

  it('amounts carry their currency code', () => {
    expect(formatAmount(2500, 'usd')).toBe('USD 25.00');
    expect(formatAmount(100000, 'jpy')).toBe('JPY 1,000');
    expect(formatAmount(null, 'usd')).toBe('the outstanding balance');
    // A code Intl refuses: the plain form, and again once the refusal is remembered.
    expect(formatAmount(2500, 'dollars')).toBe('25.00 DOLLARS');
    expect(formatAmount(2500, 'dollars')).toBe('25.00 DOLLARS');
  });

  it('every template renders with the preview sample', () => {
    for (const template of EMAIL_TEMPLATES) {
      const email = renderEmail(template, sampleEmailContext(template, next));
      expect(email.subject.length).toBeGreaterThan(10);
      expect(email.text).toContain('Blocky Builders Ltd');
    }
  });
});
