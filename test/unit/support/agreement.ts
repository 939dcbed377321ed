// A small subject–verb agreement check for the customer-facing sentences (gate messages,
// announcements, emails). It knows only the shapes those sentences use, which is enough to catch
// the mistakes that happened: a plural noun with "is" ("Automatic repairs is"), and a subject made
// of actions whose number was guessed wrong ("Listing and downloading backups is", "Creating new
// servers are"). Its own tests are in test/unit/gates-wording.test.ts.

const VERB = /\b(is|are|was|were|has|have)\b/g;
const SINGULAR_VERBS = new Set(['is', 'was', 'has']);
/** Where a clause starts over: a sentence end, a colon or semicolon, a dash. */
const BOUNDARY = /(?:^|[.!?:;]\s+|\s+—\s+)/g;
/** Pronouns that end like a gerund but are singular nouns. */
const INDEFINITE = new Set(['nothing', 'everything', 'something', 'anything']);
/** Words ending in "s" that are not plurals (the "ss"/"us"/"is" endings are handled by shape). */
const NOT_PLURAL = new Set(['its', 'news', 'series', 'yes', 'has', 'was', 'as', 'us']);
/** Nouns that take either number ("your data is", "the data are"). */
const EITHER = new Set(['data']);

function isPluralNoun(word: string): boolean {
  const w = word.toLowerCase();
  if (NOT_PLURAL.has(w) || EITHER.has(w)) return false;
  return /^[a-z]+s$/.test(w) && !/(ss|us|is)$/.test(w);
}

function isGerund(word: string): boolean {
  const w = word.toLowerCase();
  return /^[a-z]{3,}ing$/.test(w) && !INDEFINITE.has(w);
}

/** Subject–verb disagreements found in `text`, each naming the words; empty when none. */
export function agreementProblems(text: string): string[] {
  const problems: string[] = [];
  for (const match of text.matchAll(VERB)) {
    const verb = match[1]!;
    const at = match.index;
    let start = 0;
    for (const b of text.slice(0, at).matchAll(BOUNDARY)) start = b.index + b[0].length;
    // Parentheses add detail to a subject, never its head: "Backup changes (create, …) are".
    const subject = text
      .slice(start, at)
      .replace(/\([^)]*\)/g, ' ')
      .trim();
    const words = subject.split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const singularVerb = SINGULAR_VERBS.has(verb);
    const anotherVerb = new RegExp(VERB.source).test(subject);
    if (!anotherVerb && isGerund(words[0]!)) {
      // "Creating new servers is": one action, singular; "Listing and downloading backups are",
      // "Starting servers and opening the console are": two actions, plural.
      const plural = /\band\b/.test(subject);
      if (plural === singularVerb) {
        problems.push(
          `"${subject} ${verb}": ${plural ? 'two actions take a plural verb' : 'one action takes a singular verb'}`,
        );
      }
      continue;
    }
    const head = words[words.length - 1]!.replace(/[^A-Za-z]/g, '');
    if (singularVerb && isPluralNoun(head)) {
      problems.push(`"${subject} ${verb}": "${head}" is plural`);
    }
  }
  return problems;
}
