// What production refuses to start with: a secret anyone could know or guess. Placeholders from
// the shipped examples (.env.example, deploy/, the CLI's stand-ins), short or low-entropy tokens,
// and webhook secrets that are not real Stripe ones would let anyone who read this repository
// forge Stripe events or drive the admin API. Development keeps working with the secrets
// `npm run dev` generates (.data/dev-secrets.json), which pass these checks too.

/** Words that only a placeholder contains. */
const PLACEHOLDER_WORDS = [
  'replace',
  'changeme',
  'change-me',
  'change_me',
  'example',
  'placeholder',
  'dummy',
  'does-not-use',
  'does_not_use',
  'your-',
  'xxxx',
];

export const MIN_TOKEN_LENGTH = 32;
/** Shannon entropy of the token's own characters, times its length: a random 32-char hex token has ~115. */
export const MIN_TOKEN_BITS = 96;

/** Bits of entropy estimated from the token's character frequencies (an upper bound for guessable ones). */
export function estimatedBits(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * value.length;
}

function placeholderWord(value: string): string | undefined {
  const lower = value.toLowerCase();
  return PLACEHOLDER_WORDS.find((word) => lower.includes(word));
}

/** Why a bearer token is too weak for production, or undefined when it is fine. */
export function weakTokenReason(value: string): string | undefined {
  const word = placeholderWord(value);
  if (word) return `is a placeholder ("${word}"): generate one, e.g. \`openssl rand -hex 32\``;
  if (value.length < MIN_TOKEN_LENGTH)
    return `is ${value.length} characters: production needs at least ${MIN_TOKEN_LENGTH} random ones (\`openssl rand -hex 32\`)`;
  if (estimatedBits(value) < MIN_TOKEN_BITS)
    return 'is too predictable (repeated or few distinct characters): use a random one (`openssl rand -hex 32`)';
  return undefined;
}

/**
 * A Stripe webhook signing secret is `whsec_` and 32 or more base64 characters, as the
 * Dashboard or `stripe listen` shows it.
 */
const STRIPE_WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/=]{32,}$/;

export function weakWebhookSecretReason(value: string): string | undefined {
  const word = placeholderWord(value);
  if (word) return `is a placeholder ("${word}"): use the signing secret Stripe shows for the endpoint`;
  if (!STRIPE_WEBHOOK_SECRET.test(value))
    return 'is not a Stripe signing secret (whsec_ and at least 32 characters): copy it from the Dashboard';
  if (estimatedBits(value.slice('whsec_'.length)) < MIN_TOKEN_BITS)
    return 'is too predictable to be a Stripe signing secret: copy it from the Dashboard';
  return undefined;
}
