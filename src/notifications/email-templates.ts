// Customer emails, one per rung. Plain text and HTML say the same thing: what happened, what
// still works (file downloads), what is blocked, how to pay, and what happens next and when.

export const EMAIL_TEMPLATES = [
  'payment_failed',
  'payment_reminder',
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

/** "USD 25.00": the code, not a symbol, since "$" alone does not say which dollar. */
// One formatter per currency, made once: building an Intl.NumberFormat costs far more than using
// one, and every email, Discord post and announcement formats an amount.
const formatters = new Map<string, Intl.NumberFormat | null>();

function formatterFor(code: string): Intl.NumberFormat | null {
  let formatter = formatters.get(code);
  if (formatter === undefined) {
    try {
      formatter = new Intl.NumberFormat('en-US', {
        style: 'currency',
        currency: code,
        currencyDisplay: 'code',
      });
    } catch {
      // A code Intl does not know (RangeError): the plain form below.
      formatter = null;
    }
    // Bounded: codes come from Stripe's events, but a stored event could name anything.
    if (formatters.size < 1000) formatters.set(code, formatter);
  }
  return formatter;
}

export function formatAmount(cents: number | null, currency: string | null): string {
  if (cents === null || !currency) return 'the outstanding balance';
  const code = currency.toUpperCase();
  const formatter = formatterFor(code);
  return formatter
    ? formatter.format(cents / 100).replace(/\u00a0/g, ' ')
    : `${(cents / 100).toFixed(2)} ${code}`;
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
  /** What the customer cannot do until they pay; null when nothing is blocked. */
  blocked: string | null;
  stillWorks: string;
  next: string | null;
}

const DOWNLOADS_WORK =
  'File downloads and backup downloads keep working, so your data is always yours to take.';

function body(template: EmailTemplate, ctx: EmailContext): Body {
  const amount = formatAmount(ctx.amountDueCents, ctx.currency);
  const when = formatDate(ctx.nextActionAt);
  switch (template) {
    case 'payment_failed':
      return {
        subject: `Payment failed: ${amount} due for ${ctx.accountName}`,
        lead: `We could not collect ${amount} for your account. Your servers keep running; please pay the invoice to avoid any interruption.`,
        blocked: null,
        stillWorks: `Everything, for now: servers, the console, backups. ${DOWNLOADS_WORK}`,
        next: `If the invoice is still unpaid on ${when}, backups will be paused (no new backups, restores or deletions).`,
      };
    case 'payment_reminder':
      return {
        subject: `Reminder: ${amount} still due for ${ctx.accountName}`,
        lead: `${amount} for your account is still unpaid. Your servers keep running; paying the invoice now avoids any interruption.`,
        blocked: null,
        stillWorks: `Everything, for now: servers, the console, backups. ${DOWNLOADS_WORK}`,
        next: `If the invoice is still unpaid on ${when}, backups will be paused (no new backups, restores or deletions).`,
      };
    case 'final_warning':
      return {
        subject: `Final notice: ${amount} unpaid, backups paused, servers will be stopped`,
        lead: `${amount} is still unpaid. Backup changes (create, restore, delete, prune) are paused until it is paid.`,
        blocked: 'Backup create, restore, delete and prune.',
        stillWorks: `Your servers keep running and the console works. ${DOWNLOADS_WORK}`,
        next: `If the invoice is still unpaid on ${when}, your servers will be stopped. Nothing will be deleted.`,
      };
    case 'suspended':
      return {
        subject: `Servers stopped: ${amount} unpaid (no data deleted)`,
        lead: `Because ${amount} is unpaid, your servers have been stopped. No data has been deleted.`,
        blocked: 'Starting servers, the console, backup changes and file uploads or edits.',
        stillWorks: DOWNLOADS_WORK,
        next: `Pay the invoice and your servers that were running are started again. On ${when} the account moves to retention.`,
      };
    case 'retained':
      return {
        subject: `Account in retention: ${amount} unpaid, data kept until ${when}`,
        lead: `${amount} is still unpaid. Your data is retained, untouched, and your servers stay stopped.`,
        blocked: 'Starting servers, the console, backup changes and file uploads or edits.',
        stillWorks: DOWNLOADS_WORK,
        next: `Retention ends on ${when}; after that the account is reviewed by our team before anything is removed. Paying restores access at any time.`,
      };
    case 'restored':
      return {
        subject: 'Payment received — access restored',
        lead: 'Thank you: your payment has been received and full access is restored. Servers that were running before the suspension are being started again.',
        blocked: null,
        stillWorks: 'Everything: servers, the console, backups and file access are all unblocked.',
        next: null,
      };
  }
}

export function renderEmail(template: EmailTemplate, ctx: EmailContext): RenderedEmail {
  const b = body(template, ctx);
  const owing = template !== 'restored';
  const amount = formatAmount(ctx.amountDueCents, ctx.currency);
  const payHref = ctx.hostedInvoiceUrl ?? ctx.portalUrl;
  const facts: [string, string][] = [
    ['Account', ctx.accountName],
    ...(owing ? ([['Amount due', amount]] as [string, string][]) : []),
    ...(owing && ctx.hostedInvoiceUrl ? ([['Invoice', ctx.hostedInvoiceUrl]] as [string, string][]) : []),
  ];
  const blocked = b.blocked ?? (owing ? 'Nothing yet.' : null);
  const lines = [
    `Hello ${ctx.accountName},`,
    '',
    b.lead,
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    ...(blocked ? ['', `Blocked until payment: ${blocked}`] : []),
    '',
    `Still works: ${b.stillWorks}`,
    ...(b.next ? ['', `What happens next: ${b.next}`] : []),
    ...(owing
      ? [
          '',
          ctx.hostedInvoiceUrl
            ? `Pay the invoice: ${ctx.hostedInvoiceUrl}`
            : `Pay in the portal: ${ctx.portalUrl}`,
        ]
      : []),
    '',
    `Manage your account: ${ctx.portalUrl}`,
  ];
  const row = ([k, v]: [string, string]) =>
    `<tr><td style="padding:2px 12px 2px 0;color:#555">${escapeHtml(k)}</td><td>${
      k === 'Invoice'
        ? `<a href="${escapeHtml(v)}">${escapeHtml(v)}</a>`
        : `<strong>${escapeHtml(v)}</strong>`
    }</td></tr>`;
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(b.subject)}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5;max-width:640px">',
    `<p>Hello ${escapeHtml(ctx.accountName)},</p>`,
    `<p>${escapeHtml(b.lead)}</p>`,
    `<table role="presentation" style="border-collapse:collapse">${facts.map(row).join('')}</table>`,
    blocked ? `<p><strong>Blocked until payment:</strong> ${escapeHtml(blocked)}</p>` : '',
    `<p><strong>Still works:</strong> ${escapeHtml(b.stillWorks)}</p>`,
    b.next ? `<p><strong>What happens next:</strong> ${escapeHtml(b.next)}</p>` : '',
    owing
      ? `<p><a href="${escapeHtml(payHref)}" style="display:inline-block;padding:10px 16px;background:#2d6cdf;color:#fff;text-decoration:none;border-radius:4px">Pay ${escapeHtml(amount)}</a></p>`
      : '',
    `<p><a href="${escapeHtml(ctx.portalUrl)}">Manage your account</a></p>`,
    '</body></html>',
  ]
    .filter(Boolean)
    .join('\n');
  return { subject: b.subject, text: lines.join('\n'), html };
}

/** A realistic context per template, for `npm run emails:preview` and the template tests. */
export function sampleEmailContext(template: EmailTemplate, now = new Date()): EmailContext {
  const days = (n: number) => new Date(now.getTime() + n * 86_400_000);
  return {
    accountName: 'Blocky Builders Ltd',
    amountDueCents: template === 'restored' ? null : 2599,
    currency: template === 'restored' ? null : 'eur',
    hostedInvoiceUrl: template === 'restored' ? null : 'https://invoice.stripe.com/i/acct_test/in_preview',
    portalUrl: 'https://portal.example.com',
    nextActionAt:
      template === 'payment_failed'
        ? days(3)
        : template === 'payment_reminder'
          ? days(1)
          : template === 'final_warning'
            ? days(2)
            : template === 'suspended'
              ? days(9)
              : template === 'retained'
                ? days(30)
                : null,
  };
}
