export { compileRouter, type Router, type MatchInput } from './router.js';
export { compileSplit, type Split, type Weighted } from './split.js';
export { compileRegex } from './regex.js';
