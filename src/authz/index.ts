/**
 * Authorization by workload identity (SPEC §12): a pure matcher beside routing's, compiled once per
 * snapshot, explained by `explain`, checked by `validate`.
 */
export {
  compileAuthorization, addBlock,
  type Authorizer, type AuthzRule, type AuthzInput, type AuthzDecision, type AuthzExplanation, type RuleVerdict, type AuthzCheck,
} from './authorizer.js';
export { checkPattern, compilePattern, matches, principalPattern, type Pattern } from './patterns.js';
export { normalizePath } from './normalize-path.js';
