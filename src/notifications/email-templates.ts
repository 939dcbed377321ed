// Customer emails, one per rung. Plain text and HTML say the same thing: what happened, what
// still works (file downloads), what is blocked, how to pay, and what happens next and when.

export const EMAIL_TEMPLATES = [
  'payment_failed',
  'final_warning',
  'suspended',
  'retained',
  'restored',
] as const;
export type EmailTemplate = (typeof EMAIL_TEMPLATES)[number];

export interface EmailContext {
  accountName: string;
  amountDueCents: number | null;
  currency: string | null;
  hostedInvoiceUrl: string | null;
  portalUrl: string;
  nextActionAt: Date | null;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export function formatAmount(cents: number | null, currency: string | null): string {
  if (cents === null || !currency) return 'the outstanding balance';
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(
    cents / 100,
  );
}

function formatDate(date: Date | null): string {
  if (!date) return 'soon';
  return date.toUTCString().replace(' GMT', ' UTC');
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Body {
  subject: string;
  lead: string;
  blocked: string | null;
  next: string | null;
}

function body(template: EmailTemplate, ctx: EmailContext): Body {
  const amount = formatAmount(ctx.amountDueCents, ctx.currency);
  const when = formatDate(ctx.nextActionAt);
  switch (template) {
    case 'payment_failed':
      return {
        subject: 'Your payment failed — please update your billing details',
        lead: `We could not collect ${amount} for your account. Your servers keep running; please pay the invoice to avoid any interruption.`,
        blocked: null,
        next: `If the invoice is still unpaid on ${when}, backups will be paused (no new backups, restores or deletions).`,
      };
    case 'final_warning':
      return {
        subject: 'Final notice: backups paused, servers will be suspended',
        lead: `${amount} is still unpaid. Backup changes (create, restore, delete) are paused until it is paid.`,
        blocked: 'Backup create, restore, delete and prune.',
        next: `If the invoice is still unpaid on ${when}, your servers will be stopped. Nothing will be deleted.`,
      };
    case 'suspended':
      return {
        subject: 'Your servers are suspended for non-payment',
        lead: `Because ${amount} is unpaid, your servers have been stopped. No data has been deleted.`,
        blocked: 'Starting servers, the console, backup changes and file uploads or edits.',
        next: `Pay the invoice and your servers that were running are started again. On ${when} the account moves to retention.`,
      };
    case 'retained':
      return {
        subject: 'Your account is in retention',
        lead: `${amount} is still unpaid. Your data is retained, untouched, and your servers stay stopped.`,
        blocked: 'Starting servers, the console, backup changes and file uploads or edits.',
        next: `Retention ends on ${when}; after that the account is reviewed by our team before anything is removed. Paying restores access at any time.`,
      };
    case 'restored':
      return {
        subject: 'Payment received — access restored',
        lead: 'Thank you: your payment has been received and full access is restored. Servers that were running before the suspension are being started again.',
        blocked: null,
        next: null,
      };
  }
}

export function renderEmail(template: EmailTemplate, ctx: EmailContext): RenderedEmail {
  const b = body(template, ctx);
  const stillWorks = 'File downloads and backup downloads keep working throughout.';
  const payLine =
    template === 'restored'
      ? null
      : ctx.hostedInvoiceUrl
        ? `Pay the invoice: ${ctx.hostedInvoiceUrl}`
        : `Pay in the portal: ${ctx.portalUrl}`;
  const lines = [
    `Hello ${ctx.accountName},`,
    '',
    b.lead,
    ...(b.blocked ? ['', `Blocked until payment: ${b.blocked}`] : []),
    ...(template === 'restored' ? [] : ['', stillWorks]),
    ...(b.next ? ['', b.next] : []),
    ...(payLine ? ['', payLine] : []),
    '',
    `Manage your account: ${ctx.portalUrl}`,
  ];
  const payHref = ctx.hostedInvoiceUrl ?? ctx.portalUrl;
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    `<p>Hello ${escapeHtml(ctx.accountName)},</p>`,
    `<p>${escapeHtml(b.lead)}</p>`,
    b.blocked ? `<p><strong>Blocked until payment:</strong> ${escapeHtml(b.blocked)}</p>` : '',
    template === 'restored' ? '' : `<p>${escapeHtml(stillWorks)}</p>`,
    b.next ? `<p>${escapeHtml(b.next)}</p>` : '',
    template === 'restored' ? '' : `<p><a href="${escapeHtml(payHref)}">Pay the invoice</a></p>`,
    `<p><a href="${escapeHtml(ctx.portalUrl)}">Manage your account</a></p>`,
    '</body></html>',
  ].join('\n');
  return { subject: b.subject, text: lines.join('\n'), html };
}
