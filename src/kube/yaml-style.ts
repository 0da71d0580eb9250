/**
 * Re-renders an edited document in the style its author used. The yaml library keeps comments,
 * key order and scalar quoting, but lays out sequences and flow collections its own way; so each
 * candidate layout renders the document *before* the edit, and the one that reproduces the most
 * of the original lines is used for the edited document.
 */
import type { Document, ToStringOptions } from 'yaml';

const CANDIDATES: readonly ToStringOptions[] = [true, false].flatMap((indentSeq) =>
  [true, false].map((flowCollectionPadding) => ({
    indentSeq,
    flowCollectionPadding,
    // 0: never fold long strings (an image reference or a JSON annotation must stay on one line).
    lineWidth: 0,
  })));

/** The layout under which `doc`, as parsed and not yet edited, is closest to `original`. */
export function matchingStyle(doc: Document, original: string): ToStringOptions {
  const want = new Map<string, number>();
  for (const line of original.split('\n')) want.set(line.trimEnd(), (want.get(line.trimEnd()) ?? 0) + 1);
  let best = CANDIDATES[0]!;
  let bestScore = -1;
  for (const options of CANDIDATES) {
    const left = new Map(want);
    let score = 0;
    for (const line of doc.toString(options).split('\n')) {
      const n = left.get(line) ?? 0;
      if (n > 0) { score++; left.set(line, n - 1); }
    }
    if (score > bestScore) { best = options; bestScore = score; }
  }
  return best;
}
